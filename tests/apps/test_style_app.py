"""End to end: `dlsuite train style` in both modes, export, fresh-process reload,
predict, report, TensorBoard; optimisation on 1 and 2 replicas."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dlsuite.apps.cli import main
from dlsuite.apps.runtime import signature_inputs, training
from dlsuite.apps.style.export import make_stylize
from dlsuite.apps.style.figures import read_costs
from dlsuite.apps.style.weights import hed_weights_path

# The bundled stain as the style: the tests never need apt's opencv-doc.
WEIGHTS = "hed" if hed_weights_path() else "random"
# A short trunk (4 convolutions): fast to trace and to save.
COMMON = [f"weights={WEIGHTS}", "style=immunohistochemistry", "image_size=32", "image_every=2",
          "content_layers=block2_conv2", "style_layers=block1_conv1,block2_conv1"]
OPTIMIZE = COMMON + ["content=coffee", "steps_per_epoch=3"]
FAST = COMMON + ["mode=fast", "crops=8", "crop_size=32", "filters=4", "residual_blocks=1",
                 "max_pixels=9216"]


def _train(overrides, run_dir, epochs=2, strategy="default", precision="float32"):
    return training.train("style", overrides, epochs=epochs, strategy=strategy,
                          precision_name=precision, run_dir=run_dir, verbose=0)


@pytest.fixture(scope="module")
def optimize_run(tmp_path_factory):
    return _train(OPTIMIZE, tmp_path_factory.mktemp("optimize") / "run")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    return _train(FAST, tmp_path_factory.mktemp("fast") / "run", epochs=1)


def test_optimize_trains_the_image_and_reports(optimize_run):
    session, metrics = optimize_run
    run = session.run
    history = run.read_history()
    assert len(history) == 2
    assert {"loss", "content_cost", "style_cost", "total_variation"} <= set(history[-1])
    costs = read_costs(run.path)
    assert [row["step"] for row in costs] == [0, 2, 4, 6]
    assert costs[0]["content_cost"] == 0.0, "the image starts as the content image"
    assert costs[-1]["style_cost"] < costs[0]["style_cost"]
    style = metrics["style"]
    assert style["steps"] == 6 and style["style_cost_fall"] > 1.0
    assert style["references"]["content_cost_of_style"] > style["final"]["content_cost"] > 0
    for name in ("result.png", "side_by_side.png", "cost_curves.png"):
        assert (run.path / name).exists(), name
    report = run.report.read_text()
    assert "![content, style, result](side_by_side.png)" in report and "style cost fall" in report
    by_layer = style["style_cost_by_layer"]
    assert list(by_layer) == ["block1_conv1", "block2_conv1"]  # unweighted: 1/2 each adds up
    assert np.mean(list(by_layer.values())) == pytest.approx(style["final"]["style_cost"],
                                                             rel=1e-4)
    assert "style cost of `block2_conv1` alone" in report
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = EventAccumulator(str(run.tb / "images"), size_guidance={"tensors": 0})
    board.Reload()
    assert board.SummaryMetadata("generated").plugin_data.plugin_name == "images"
    for tag in ("generated", "step/style_cost", "step/content_cost", "step/loss"):
        assert [event.step for event in board.Tensors(tag)] == [0, 2, 4, 6], tag
    # The export's result() is the model's image, which result.png holds.
    loaded = tf.saved_model.load(str(run.export))
    result = loaded.result().numpy()
    np.testing.assert_array_equal(result, session.model.result().numpy())
    np.testing.assert_array_equal(np.asarray(Image.open(run.path / "result.png"))[..., :3],
                                  result[0])
    assert result.shape == (1, 21, 32, 3) and result.dtype == np.uint8  # coffee is 600x400


def test_mirrored_strategy_takes_the_same_steps(optimize_run, tmp_path):
    """Two replicas over the two logical CPUs: the same 6 steps, the same image."""
    single = optimize_run[0].model.generated.numpy()
    session, _ = _train(OPTIMIZE, tmp_path / "mirrored", strategy="mirrored")
    assert session.replicas == 2
    assert int(session.model.role_optimizers["model"].iterations.numpy()) == 6
    np.testing.assert_allclose(session.model.generated.numpy(), single, atol=0.05)


def test_random_weights_warn_in_the_log_and_the_report(tmp_path, capsys):
    session, _ = training.train(
        "style", COMMON[1:] + ["weights=random", "init=noise", "steps_per_epoch=1",
                               "content=rocket"], epochs=1, strategy="default",
        precision_name="float32", run_dir=tmp_path / "random", verbose=1)
    assert "WARNING: weights=random" in capsys.readouterr().out
    assert "**Warning:** weights=random" in session.run.report.read_text()
    assert json.loads((session.run.path / "feature_weights.json").read_text())["source"] == "random"


def test_fast_trains_the_network_and_reports(fast_run):
    session, metrics = fast_run
    run = session.run
    assert "val_loss" in run.read_history()[-1]
    heldout = metrics["style"]["heldout"]
    assert heldout["photos"] and heldout["final"]["style_cost"] > 0
    assert np.mean(list(heldout["style_cost_by_layer"].values())) == pytest.approx(
        heldout["final"]["style_cost"], rel=1e-4)
    assert (run.path / "heldout.png").exists() and "heldout.png" in run.report.read_text()
    assert read_costs(run.path)[-1]["step"] == 2  # 8 crops / batch 4, one epoch
    assert json.loads(run.metrics.read_text())["export"]["signatures"] == ["stylize"]


_FRESH = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2], allow_pickle=False)
outputs = {}
for key in inputs.files:
    outputs[key] = loaded.stylize(tf.constant(inputs[key])).numpy()
errors = {}
bad = {
    "rank": tf.zeros((20, 20, 3), tf.uint8),
    "empty": tf.zeros((0, 20, 20, 3), tf.uint8),
    "channels": tf.zeros((1, 20, 20, 2), tf.uint8),
    "alpha": tf.zeros((1, 20, 20, 4), tf.uint8),
    "too_large": tf.zeros((1, 100, 100, 3), tf.uint8),
    "too_small": tf.zeros((1, 8, 40, 3), tf.uint8),
    "dtype": tf.zeros((1, 20, 20, 3), tf.float32),
}
for name, value in bad.items():
    try:
        loaded.stylize(value)
        errors[name] = None
    except Exception as error:
        errors[name] = str(error)
np.savez(sys.argv[3], **outputs)
print(json.dumps({"errors": errors,
                  "dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


@pytest.fixture(scope="module")
def served(fast_run, tmp_path_factory):
    """The export called in a new process with TensorFlow only: images of sizes
    training never used, and every bad input."""
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(0)
    inputs = {"rgb": rng.integers(0, 256, (2, 37, 45, 3)).astype("uint8"),
              "gray": rng.integers(0, 256, (1, 21, 18, 1)).astype("uint8")}
    np.savez(folder / "inputs.npz", **inputs)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        [sys.executable, "-c", _FRESH, str(fast_run[0].run.export), str(folder / "inputs.npz"),
         str(folder / "outputs.npz")], cwd=folder, env=env, capture_output=True, text=True,
        timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    with np.load(folder / "outputs.npz") as outputs:
        return inputs, {key: outputs[key] for key in outputs.files}, summary


def test_export_in_a_fresh_process_matches_the_live_network(fast_run, served):
    inputs, outputs, summary = served
    assert summary["dlsuite_modules"] == [], "the server needs none of dlsuite's code"
    stylize = make_stylize(fast_run[0].model, 9216)
    for key, images in inputs.items():
        live = stylize(tf.constant(images)).numpy()
        assert outputs[key].shape == images.shape[:3] + (3,) and outputs[key].dtype == np.uint8
        assert np.max(np.abs(outputs[key].astype(int) - live)) <= 1, key
    assert outputs["rgb"].std() > 0


@pytest.mark.parametrize("name, message", [
    ("rank", "received a tensor of another rank"),
    ("empty", "received an empty batch"),
    ("channels", "received channels 2"),
    ("alpha", "received channels 4"),
    ("too_large", "height x width <= 9216; received an image of height x width 100 100"),
    ("too_small", "at least 16x16 pixels"),
    ("dtype", "TensorSpec|signature|Could not find matching"),
])
def test_export_refuses_bad_inputs_with_a_clear_message(served, name, message):
    import re

    error = served[2]["errors"][name]
    assert error is not None, f"{name} was accepted"
    explained = signature_inputs.explain(type("E", (), {"message": error})())
    assert re.search(message, explained), explained


def _photo(path, size, mode="RGB"):
    array = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3)).astype("uint8")
    Image.fromarray(array).convert(mode).save(path)
    return path


def test_predict_writes_the_stylized_file_beside_the_input(fast_run, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.jpg", (50, 30))
    gray = _photo(tmp_path / "gray.png", (24, 20), mode="L")
    assert main(["predict", str(fast_run[0].run.path), str(photo), str(gray)]) == 0
    out = capsys.readouterr().out
    for path, size in ((tmp_path / "photo_stylized.png", (50, 30)),
                       (tmp_path / "gray_stylized.png", (24, 20))):
        assert str(path) in out
        with Image.open(path) as image:
            assert image.size == size and image.mode == "RGB"


@pytest.mark.parametrize("make, message", [
    (lambda d: _photo(d / "big.png", (120, 90)),
     r"big.png is 120x90 \(10,800 pixels\), over the pixel budget max_pixels=9216 .* at most "
     r"110x83"),
    (lambda d: (d / "notes.jpg").write_text("not an image") and d / "notes.jpg",
     "notes.jpg is not an image this app can read"),
    (lambda d: _photo(d / "tiny.png", (10, 40)), "at least 16x16 pixels"),
])
def test_predict_refuses_bad_files_in_one_line(fast_run, tmp_path, capsys, make, message):
    import re

    path = make(tmp_path)
    assert main(["predict", str(fast_run[0].run.path), str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), lines


def test_predict_on_an_optimize_run_says_what_to_do(optimize_run, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.png", (20, 20))
    assert main(["predict", str(optimize_run[0].run.path), str(photo)]) == 2
    assert "--set mode=fast" in capsys.readouterr().err


@pytest.mark.parametrize("overrides, message", [
    (["style_layers=block1_conv1,block9_conv1"], "style_layers must name vgg16 layers"),
    (["style_layer_weights=1,2"], "style_layer_weights needs one weight >= 0 per style layer"),
    (["crop_size=30"], "crop_size >= 16 and a multiple of 4"),
    (["image_size=64", "max_pixels=1000"], "image_size\\*\\*2 must fit max_pixels"),
    (["mode=paint"], "expected one of optimize, fast"),
    (["weights=/nonexistent/vgg.h5"], "VGG weights file not found: /nonexistent/vgg.h5"),
    (["content=/nonexistent/photo.jpg"], "image not found: /nonexistent/photo.jpg"),
    (["style=picasso"], "image not found: picasso"),
])
def test_bad_settings_are_one_line_with_exit_status_2(capsys, tmp_path, overrides, message):
    import re

    argv = ["train", "style", "--run-dir", str(tmp_path / "run"), "--quiet"]
    for item in overrides:
        argv += ["--set", item]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and re.search(message, lines[-1]), lines
