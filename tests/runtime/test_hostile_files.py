"""Hostile ``.keras`` and ``.h5`` files are refused by every ``dlsuite``
command that loads one (exit status 2, one line), and none of their code
runs: each case's file would create a marker if it were loaded."""

import hashlib
import json
import zipfile

import h5py
import keras
import numpy as np
import pytest

from dlsuite.apps.cli import main
from dlsuite.apps.runtime import training
from dlsuite.callbacks import RunBackup
from tests.runtime.helpers import TINY_MLP, copy_run


def _dlsuite(capsys, *argv):
    code = main([str(arg) for arg in argv])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, lines


def _rewrite_config(path, change):
    """Rewrite config.json inside a .keras archive."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def _first_layer(config):
    return config["config"]["layers"][1]


def _hostile_module(tmp_path, marker):
    """A module whose import creates ``marker`` (what loading would do)."""
    (tmp_path / "hostile_module.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "import keras\n"
        "@keras.saving.register_keras_serializable(package='evil')\n"
        "class Evil(keras.layers.Dense):\n"
        "    pass\n")


def test_a_lambda_layer_is_refused_and_never_runs(finished, tmp_path, capsys):
    copy = copy_run(finished, tmp_path)
    marker = tmp_path / "lambda-ran"
    inputs = keras.Input((64,))
    namespace = {}  # the marker's path as a constant of the function's own code
    exec(f"function = lambda x: (open({str(marker)!r}, 'w').close(), x)[1]", namespace)
    evil = keras.layers.Lambda(namespace["function"])
    keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(evil(inputs))).save(
        copy / "best.keras")
    marker.unlink(missing_ok=True)  # saving traced the function once
    code, lines = _dlsuite(capsys, "evaluate", copy)
    assert code == 2 and len(lines) == 1
    assert "refused to load" in lines[0] and "Lambda layer" in lines[0]
    assert "rebuild the model with a registered layer subclass" in lines[0]
    assert not marker.exists()
    # The control: the same file loaded unsafely does run the code.
    keras.saving.load_model(copy / "best.keras", safe_mode=False)(np.zeros((1, 64)))
    assert marker.exists()


@pytest.mark.parametrize("change, message", [
    (lambda layer: layer.update(module="hostile_module"),
     "from the module 'hostile_module', outside Keras and dlsuite"),
    (lambda layer: layer.update(module="hostile_module", class_name="Evil",
                                registered_name="evil>Evil"), "outside Keras and dlsuite"),
    (lambda layer: layer.update(registered_name="evil>Evil"),
     "custom object 'evil>Evil', which is not a registered Keras or dlsuite class"),
    (lambda layer: layer["config"].update(
        activation={"module": "hostile_module", "class_name": "function", "config": "Evil",
                    "registered_name": "function"}), "outside Keras and dlsuite"),
], ids=["foreign-module", "unregistered-class", "unknown-registered-name", "foreign-function"])
def test_a_config_naming_code_outside_keras_is_refused_before_import(
        finished, tmp_path, capsys, monkeypatch, change, message):
    copy = copy_run(finished, tmp_path)
    marker = tmp_path / "module-imported"
    _hostile_module(tmp_path, marker)
    monkeypatch.syspath_prepend(str(tmp_path))
    _rewrite_config(copy / "best.keras", lambda config: change(_first_layer(config)))
    code, lines = _dlsuite(capsys, "report", copy)
    assert code == 2 and len(lines) == 1 and "refused to load" in lines[0], lines
    assert message in lines[0]
    assert not marker.exists(), "the hostile module was imported"


def _secret(tmp_path):
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as handle:
        handle["data"] = np.arange(4)
    return secret


def test_an_hdf5_external_link_in_a_backup_stops_resume(finished, tmp_path, capsys):
    copy = copy_run(finished, tmp_path)
    newest = RunBackup.backups(copy / "backup")[0]
    with h5py.File(newest / "model.weights.h5", "a") as handle:
        handle["stolen"] = h5py.ExternalLink(str(_secret(tmp_path)), "/data")
    # A forger also rewrites the recorded checksum.
    state = json.loads((newest / "state.json").read_text())
    state["sha256"] = hashlib.sha256((newest / "model.weights.h5").read_bytes()).hexdigest()
    (newest / "state.json").write_text(json.dumps(state))
    code, lines = _dlsuite(capsys, "train", "mlp", "--resume", copy, "--epochs", 4, "--quiet")
    assert code == 2 and "refused to load" in lines[-1]
    assert "external link /stolen" in lines[-1] and "secret.h5" in lines[-1]
    # Nothing was trained from the older backup instead.
    assert [row["epoch"] for row in training.RunDir(copy).read_history()] == [0, 1, 2]


def test_an_hdf5_external_link_inside_a_keras_archive_is_refused(finished, tmp_path, capsys):
    copy = copy_run(finished, tmp_path)
    with zipfile.ZipFile(copy / "best.keras") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    weights = tmp_path / "weights.h5"
    weights.write_bytes(entries["model.weights.h5"])
    with h5py.File(weights, "a") as handle:
        handle["stolen"] = h5py.ExternalLink(str(_secret(tmp_path)), "/data")
    entries["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(copy / "best.keras", "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    code, lines = _dlsuite(capsys, "export", copy)
    assert code == 2 and "external link /stolen" in lines[-1]


def test_modules_of_the_dlsuite_namespace_and_the_old_layout_are_allowed():
    from dlsuite.apps.runtime.safe_load import RefusedFile, check_config

    for module in ("dlsuite.apps.rcnn.model", "apps.gan.stylegan", "keras.layers"):
        check_config({"module": module, "class_name": "Model", "config": {}}, "f.keras")
    for module in ("dlsuitex.evil", "appsx", "os"):
        with pytest.raises(RefusedFile, match=f"from the module '{module}'"):
            check_config({"module": module, "class_name": "Model", "config": {}}, "f.keras")
