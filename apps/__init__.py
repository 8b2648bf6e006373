"""dlsuite applications: every model family of the curriculum as a runnable app.

Importing :mod:`dlsuite.apps` registers nothing by itself; :func:`dlsuite.apps.registry.load_all`
imports every app package so that its ``@register_app`` runs.
"""

if not __name__.startswith("dlsuite."):
    # The folder is installed as dlsuite.apps; importing it by its bare name
    # (from the repository root) would load every module twice, under two names.
    raise ImportError("import dlsuite.apps, not apps: the library's one namespace is dlsuite "
                      "(pip install -e . puts it on the path)")
