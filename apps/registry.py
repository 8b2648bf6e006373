"""The app registry: ``@register_app("name")`` on an :class:`dlsuite.apps.runtime.App`.

Like timm's model registry it refuses silent overwrites: registering a name
twice is an error, so two apps can never shadow each other.

Apps are found through the ``dlsuite.apps`` entry-point group (Python's
plugin mechanism): each entry names the module whose import registers the
app, e.g. ``mlp = "dlsuite.apps.mlp"`` in pyproject.toml. So the registry
needs no list of what is *not* an app (the runtime, data, the kits), and a
package of someone else's can add an app of its own by declaring an entry.
The registry sits on the ground floor: it imports no app, kit or runtime
module except by those names.
"""

import importlib
import importlib.metadata

from dlsuite.apps.errors import UsageError

ENTRY_POINT_GROUP = "dlsuite.apps"

_APPS = {}


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


def declared():
    """``{app name: module}`` of every installed ``dlsuite.apps`` entry point."""
    return {point.name: point.value
            for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_all():
    """Import every declared app module so that each registers itself; an
    entry whose module registers no app of its name is an error."""
    for name, module in sorted(declared().items()):
        if name not in _APPS:
            importlib.import_module(module)
        if name not in _APPS:
            raise ValueError(f"The entry point {name} = {module!r} (group {ENTRY_POINT_GROUP!r}) "
                             f"registered no app named {name!r}; @register_app({name!r}) is "
                             "missing there")


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
