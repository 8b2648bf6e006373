"""Loading ``.keras`` and ``.h5`` files without running what is in them.

Every file a ``dlsuite`` command loads (``best.keras``, a run's backup
weights, a user's weights file) goes through here first. A file is refused,
with a :class:`UsageError` that says why and what to do instead, and before
Keras deserialises anything from it, when it holds:

- a ``Lambda`` layer or a serialised Python function (``__lambda__``):
  loading would run its bytecode;
- a config entry naming a module outside Keras and dlsuite's own packages
  (``{"module": "os", "class_name": "system"}``): loading would import it;
- a custom object that is not registered (``registered_name`` that
  ``keras.saving.get_registered_object`` does not know);
- an HDF5 external link, soft link, external-storage or virtual dataset:
  reading one reads another file of the machine's.

Then Keras loads it with ``safe_mode=True``. Keras's safe mode alone
already refuses ``Lambda`` deserialisation; the scan here also covers the
other cases and weights-only files, and gives one message for all of them.
"""

import json
import pathlib
import tempfile
import zipfile

import h5py
import keras

from dlsuite.apps.errors import UsageError

# Packages whose registered classes a dlsuite file may name: the dlsuite
# namespace, and the top-level names its folders had before issue 31 (files of
# older runs name them; Keras finds those classes by their registered name, and
# importing such a bare name is refused by the folders themselves).
OWN_PACKAGES = ("dlsuite",)
OLD_LAYOUT_PACKAGES = ("apps", "layers", "losses", "callbacks")
ALLOWED_MODULE_PREFIXES = ("keras", "keras_hub") + OWN_PACKAGES + OLD_LAYOUT_PACKAGES
ALLOWED_REGISTERED_PACKAGES = ("keras", "keras_hub", "dlsuite")


class RefusedFile(UsageError):
    """A file that would run code or read other files on loading."""


def _refuse(path, why, instead):
    raise RefusedFile(f"refused to load {path}: {why}; {instead}")


# -- HDF5 -----------------------------------------------------------------------------


def check_h5(path, shown=None):
    """Refuse an HDF5 file with links or datasets that reach outside it."""
    shown = shown or path
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise UsageError(f"cannot read {shown}: not an HDF5 file or truncated "
                         f"({str(error).splitlines()[0]})") from None
    with handle:
        _check_h5_group(handle, shown, set())
        config = handle.attrs.get("model_config")
    if config is not None:
        if isinstance(config, bytes):
            config = config.decode("utf-8", "replace")
        check_config(_parse_json(config, shown), shown)


def _check_h5_group(group, shown, seen):
    if group.id.__hash__() in seen:
        return
    seen.add(group.id.__hash__())
    for name in group:
        link = group.get(name, getlink=True)
        where = f"{group.name.rstrip('/')}/{name}"
        if isinstance(link, h5py.ExternalLink):
            _refuse(shown, f"it holds an HDF5 external link {where} -> "
                    f"{link.filename}:{link.path}, which would read another file",
                    "use a weights file written by Keras")
        if isinstance(link, h5py.SoftLink):
            _refuse(shown, f"it holds an HDF5 soft link {where} -> {link.path}",
                    "use a weights file written by Keras")
        item = group.get(name)
        if isinstance(item, h5py.Group):
            _check_h5_group(item, shown, seen)
        elif isinstance(item, h5py.Dataset):
            if item.external or item.is_virtual:
                _refuse(shown, f"its dataset {where} stores its data in other files",
                        "use a weights file written by Keras")


# -- configs --------------------------------------------------------------------------


def _parse_json(text, shown):
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"cannot read {shown}: its model config is not JSON ({error})") from None


def check_config(config, shown):
    """Refuse a model config that would import or run code on loading."""
    for node in _walk(config):
        class_name = node.get("class_name")
        module = node.get("module")
        registered = node.get("registered_name")
        if class_name == "Lambda" or class_name == "__lambda__":
            _refuse(shown, "it holds a Lambda layer (or a serialised Python function), whose "
                    "code would run on loading",
                    "rebuild the model with a registered layer subclass instead of Lambda")
        if class_name == "function" and module and not _allowed_module(module):
            _refuse(shown, f"it names the function {module}.{node.get('config')}, outside "
                    "Keras and dlsuite", "use Keras's own activations and losses")
        if module and not _allowed_module(module):
            _refuse(shown, f"it names {class_name!r} from the module {module!r}, outside Keras "
                    "and dlsuite, which loading would import",
                    "use Keras layers or dlsuite's registered ones")
        if registered and isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if (package not in ALLOWED_REGISTERED_PACKAGES
                    or keras.saving.get_registered_object(registered) is None):
                _refuse(shown, f"it holds the custom object {registered!r}, which is not a "
                        "registered Keras or dlsuite class",
                        "register it with keras.saving.register_keras_serializable or "
                        "use dlsuite's own classes")


def _allowed_module(module):
    return any(module == prefix or module.startswith(prefix + ".")
               for prefix in ALLOWED_MODULE_PREFIXES)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# -- .keras archives --------------------------------------------------------------------


def check_keras_archive(path):
    """Refuse a ``.keras`` zip whose config or weights are hostile."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"cannot read {path}: not a .keras archive or truncated ({error})") from None
    with archive:
        names = set(archive.namelist())
        if "config.json" not in names:
            raise UsageError(f"cannot read {path}: it has no config.json; not a .keras file")
        try:
            config = archive.read("config.json").decode("utf-8", "replace")
        except (OSError, zipfile.BadZipFile, EOFError) as error:
            raise UsageError(f"cannot read {path}: the archive is corrupt ({error})") from None
        check_config(_parse_json(config, path), path)
        for name in names:
            if name.endswith(".h5"):
                with tempfile.TemporaryDirectory() as scratch:
                    try:
                        extracted = archive.extract(name, scratch)
                    except (OSError, zipfile.BadZipFile, EOFError) as error:
                        raise UsageError(f"cannot read {path}: the archive is corrupt "
                                         f"({error})") from None
                    check_h5(extracted, shown=f"{path} ({name})")


# -- loading ----------------------------------------------------------------------------


def _reason(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return f"{type(error).__name__}: {text}"


def load_model(path, **kwargs):
    """``keras.saving.load_model`` after the checks, in safe mode."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise UsageError(f"{path} is missing")
    if zipfile.is_zipfile(path):
        check_keras_archive(path)
    elif _is_h5(path):
        check_h5(path)
    else:
        raise UsageError(f"cannot load {path}: it is neither a .keras archive nor an HDF5 file "
                         "(corrupt or truncated); retrain it, or --resume its run")
    try:
        return keras.saving.load_model(path, safe_mode=True, **kwargs)
    except UsageError:
        raise
    except Exception as error:  # Keras raises many types for a bad file.
        raise UsageError(f"cannot load {path}: {_reason(error)}; the file is corrupt or not "
                         "a model this version of dlsuite wrote (retrain it, or --resume "
                         "its run)") from None


def _is_h5(path):
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"


def load_weights(model, path):
    """``model.load_weights`` after the HDF5 checks."""
    check_h5(path)
    model.load_weights(path)
