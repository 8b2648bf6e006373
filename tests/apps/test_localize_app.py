"""End-to-end tests of the localize app and its box parameterisation."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.localize import MeanBoxIoU, LocalizeConfig, curriculum_to_xyxy, largest_box, to_curriculum
from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from tests.apps.fresh_process import signature_from_fresh_process

TINY = ["limit=64", "width=0.125", "hidden_units=16", "batch_size=16", "epochs=2", "patience=0"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("localize") / "run"
    session, metrics = commands.train("localize", overrides=TINY, strategy="default",
                                      precision_name="float32", run_dir=str(run_dir), verbose=0)
    return session, metrics, run_dir


def test_curriculum_box_round_trip_and_mean_iou():
    boxes = np.array([[8, 16, 24, 48], [0, 0, 64, 64]], np.float32)
    curriculum = to_curriculum(boxes, 64)
    np.testing.assert_allclose(curriculum[0], [16 / 64, 32 / 64, 32 / 64, 16 / 64])
    np.testing.assert_allclose(curriculum_to_xyxy(tf.constant(curriculum), 64.0, 64.0).numpy(),
                               boxes, atol=1e-5)
    metric = MeanBoxIoU()
    # Identical -> 1; a box of half the width at the same left edge -> 0.5.
    half = curriculum.copy()
    half[0] = to_curriculum(np.array([[8, 16, 16, 48]], np.float32), 64)[0]
    metric.update_state(curriculum, half)
    assert float(metric.result()) == pytest.approx((0.5 + 1.0) / 2, abs=1e-5)
    rows = np.array([[[0, 0, 4, 4, 1], [0, 0, 8, 8, 2], [-1, -1, -1, -1, -1]]], np.float32)
    assert largest_box(rows).tolist() == [[0, 0, 8, 8, 2]]


def test_run_reports_accuracy_and_mean_iou(trained_run):
    session, metrics, run_dir = trained_run
    assert session.data.y_train.shape[1:] == (5,)
    localization = metrics["localization"]
    assert 0.0 <= localization["mean_iou"] <= 1.0
    assert localization["iou_at_least_0.75"] <= localization["iou_at_least_0.5"]
    assert {"box_iou", "class_accuracy"} <= set(metrics["evaluation"]["test"])
    report = (run_dir / "report.md").read_text()
    assert "mean IoU" in report and (run_dir / "localized.png").stat().st_size > 1000


def test_localize_export_in_a_fresh_process(trained_run, tmp_path):
    session, _, run_dir = trained_run
    images = session.data.x_test[:3]
    live = session.model(images.astype("float32"), training=False)
    fresh = signature_from_fresh_process(run_dir / "export", "localize", images, tmp_path)
    np.testing.assert_allclose(fresh["box"], live["box"], atol=1e-5)
    np.testing.assert_allclose(fresh["probabilities"], live["class"], atol=1e-5)
    np.testing.assert_allclose(fresh["box_xyxy"],
                               curriculum_to_xyxy(tf.constant(fresh["box"]), 64.0, 64.0).numpy(),
                               atol=1e-4)
    names = [name.decode() for name in fresh["class_name"]]
    assert names == [session.data.class_names[i] for i in fresh["class_index"]]


@pytest.mark.parametrize("images, message", [
    (np.zeros((64, 64), np.uint8), "received a tensor of another rank"),
    (np.zeros((0, 64, 64, 1), np.uint8), "received an empty batch"),
    (np.zeros((1, 64, 0, 3), np.uint8), "received an empty image"),
])
def test_localize_refuses_bad_input(trained_run, images, message):
    _, _, run_dir = trained_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"localize expects .*{message}"):
        loaded.localize(tf.constant(images))
    with pytest.raises((TypeError, ValueError)):
        loaded.localize(tf.constant(np.zeros((1, 64, 64, 1), np.int32)))


def test_predict_prints_class_and_box_and_draws_it(trained_run, tmp_path):
    session, _, run_dir = trained_run
    path = tmp_path / "digit.png"
    path.write_bytes(tf.io.encode_png(session.data.x_test[0]).numpy())
    (line,) = commands.predict(str(run_dir), [str(path)])
    assert line.startswith(f"{path}: ") and " bx=" in line and " bw=" in line
    assert (tmp_path / "digit.detections.png").exists()


@pytest.mark.parametrize("override, message", [
    ("box_weight=-1", "box_weight must be >= 0"),
    ("limit=2", "limit must be >= 10"),
    ("stride=0", "stride must be > 0"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(LocalizeConfig(), [override])
