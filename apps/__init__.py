"""dlsuite applications: every model family of the curriculum as a runnable app.

Importing :mod:`apps` registers nothing by itself; :func:`apps.registry.load_all`
imports every app package so that its ``@register_app`` runs.
"""
