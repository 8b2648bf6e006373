"""The app registry: ``@register_app("name")`` on an :class:`dlsuite.apps.runtime.App`.

Like timm's model registry it refuses silent overwrites: registering a name
twice is an error, so two apps can never shadow each other.
"""

import importlib
import pkgutil

from dlsuite.apps.runtime.errors import UsageError

_APPS = {}

# Packages under apps/ that are infrastructure, not applications.
_NOT_APPS = {"runtime", "data", "detection"}


def register_app(name):
    """Class decorator that registers an ``App`` subclass under ``name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"App names must be identifiers. Received: name={name!r}")

    def decorator(cls):
        if name in _APPS and _APPS[name] is not cls:
            raise ValueError(
                f"An app named {name!r} is already registered "
                f"({_APPS[name].__module__}.{_APPS[name].__qualname__}); "
                f"refusing to overwrite it with {cls.__module__}.{cls.__qualname__}."
            )
        cls.name = name
        _APPS[name] = cls
        return cls

    return decorator


def load_all():
    """Import every app package under ``apps/`` so each registers itself."""
    import dlsuite.apps as apps

    for module in pkgutil.iter_modules(apps.__path__):
        if module.ispkg and module.name not in _NOT_APPS:
            importlib.import_module(f"dlsuite.apps.{module.name}")


def names():
    load_all()
    return sorted(_APPS)


def get_app(name):
    """Return a new instance of the app registered as ``name``."""
    load_all()
    if name not in _APPS:
        raise UsageError(
            f"unknown app {name!r}; valid apps: {', '.join(sorted(_APPS))}"
        )
    return _APPS[name]()
