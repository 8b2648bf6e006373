"""End-to-end tests of the yolo app: train, evaluate, export, reload in a
fresh process, predict on files, report, TensorBoard."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from dlsuite.apps.yolo import YOLOConfig
from tests.apps.detect_checks import assert_detect_matches_live
from tests.apps.fresh_process import signature_from_fresh_process

TINY = ["image_size=64", "max_scale=2", "max_objects=3", "limit=48", "width=0.125",
        "neck_filters=16", "batch_size=16", "epochs=2", "patience=0", "logged_scenes=4",
        # Two epochs leave scores low: keep them, so every test sees detections.
        "score_threshold=0.001", "max_detections=20"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("yolo") / "run"
    session, metrics = commands.train("yolo", overrides=TINY, strategy="default",
                                      precision_name="float32", run_dir=str(run_dir), verbose=0)
    return session, metrics, run_dir


def test_run_reports_map_pr_curves_and_error_analysis(trained_run):
    session, metrics, run_dir = trained_run
    detection = metrics["detection"]
    assert 0.0 <= detection["map"] <= detection["map_50"] <= 1.0
    assert set(detection["error_analysis"]) == {"correct", "duplicate", "mislocalised",
                                                "wrong class", "background", "missed"}
    assert detection["true_objects"] == int((session.data.y_test[..., 4] >= 0).sum())
    # Every true object is either matched by a correct detection or missed.
    assert (detection["error_analysis"]["correct"] + detection["error_analysis"]["missed"]
            == detection["true_objects"])
    assert len(metrics["anchors"]) == 3
    report = (run_dir / "report.md").read_text()
    for expected in ("mAP@0.5", "Error analysis", "Grid and anchors", "4 x 4 grid",
                     "precision_recall.png", "scenes.png"):
        assert expected in report
    for figure in ("precision_recall.png", "scenes.png", "learning_curves.png"):
        assert (run_dir / figure).stat().st_size > 1000
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("val_map_50" in row and "val_map" in row for row in rows)


def test_tensorboard_gets_map_scenes_and_pr_curves(trained_run):
    _, _, run_dir = trained_run
    tags = set()
    for path in (run_dir / "tb" / "validation").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_map_50", "epoch_map", "dev_scenes_true_red_predicted_green",
            "dev_precision_recall", "detection_error_analysis"} <= tags


def test_detect_matches_the_live_model_in_a_fresh_process(trained_run, tmp_path):
    session, _, run_dir = trained_run
    app, config, data = session.app, session.config, session.data
    images = data.x_test[:4]
    live = app.detections(session.model, config, data, images)
    fresh = signature_from_fresh_process(run_dir / "export", "detect", images, tmp_path)
    assert fresh["boxes"].shape == (4, config.max_detections, 4)
    assert_detect_matches_live(fresh, live, data.class_names)


def test_detections_trace_the_model_once_per_run_not_per_epoch(trained_run):
    session = trained_run[0]
    app, config, data = session.app, session.config, session.data
    function = app.detections_function(session.model, config, data)
    app.detections(session.model, config, data, data.x_test[:4])
    traced = function.experimental_get_tracing_count()
    app.detections(session.model, config, data, data.x_test[:4][::-1])  # same shape
    assert app.detections_function(session.model, config, data) is function
    assert function.experimental_get_tracing_count() == traced >= 1


def test_detect_takes_any_size_and_returns_boxes_in_its_pixels(trained_run):
    from dlsuite.apps.kits.vision import prepare_images

    session, _, run_dir = trained_run
    app, config, data = session.app, session.config, session.data
    loaded = tf.saved_model.load(str(run_dir / "export"))
    # A scene 3x larger, in RGB, and not square.
    big = np.repeat(np.kron(data.x_test[0], np.ones((3, 2, 1), np.uint8)), 3, axis=-1)
    out = loaded.detect(tf.constant(big[None]))
    # The same pipeline by hand: resize to the model's input, detect, scale back.
    resized = prepare_images(tf.constant(big[None]), 64, 64, 1).numpy()
    boxes, scores, _ = app.detections(session.model, config, data, resized)[0]
    count = int(out["count"][0])
    assert count == len(scores) > 0
    expected = np.clip(boxes * [2, 3, 2, 3], 0, [128, 192, 128, 192])
    np.testing.assert_allclose(out["boxes"].numpy()[0, :count], expected, atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy()[0, :count], scores, atol=1e-5)


@pytest.mark.parametrize("images, message", [
    (np.zeros((64, 64, 1), np.uint8), "received a tensor of another rank"),
    (np.zeros((0, 64, 64, 1), np.uint8), "received an empty batch"),
    (np.zeros((1, 0, 64, 1), np.uint8), "received an empty image"),
    (np.zeros((1, 64, 64, 2), np.uint8), "received channels"),
])
def test_detect_refuses_bad_input_clearly(trained_run, images, message):
    _, _, run_dir = trained_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"detect expects images .*{message}"):
        loaded.detect(tf.constant(images))


def test_detect_refuses_a_wrong_dtype(trained_run):
    _, _, run_dir = trained_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises((TypeError, ValueError), match="uint8|Could not find matching"):
        loaded.detect(tf.constant(np.zeros((1, 64, 64, 1), np.float32)))


def test_predict_writes_the_labelled_image_beside_the_file(trained_run, tmp_path):
    session, _, run_dir = trained_run
    scene = tmp_path / "scene.png"
    scene.write_bytes(tf.io.encode_png(session.data.x_test[0]).numpy())
    lines = commands.predict(str(run_dir), [str(scene)])
    written = tmp_path / "scene.detections.png"
    assert lines[0].startswith(f"{scene}: ") and str(written) in lines[0]
    picture = tf.io.decode_png(written.read_bytes()).numpy()
    assert picture.shape[0] >= 256 and picture.shape[-1] == 3
    shown = int(lines[0].split(": ")[1].split(" object")[0])
    assert len(lines) == 1 + shown
    for line in lines[1:]:
        name = line.split()[0]
        assert name in session.data.class_names and " at x1=" in line
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"not a png")
    with pytest.raises(UsageError, match="empty.png is not an image"):
        commands.predict(str(run_dir), [str(empty)])


@pytest.mark.parametrize("override, message", [
    ("stride=0", "stride must be > 0"),
    ("score_threshold=1.5", "score_threshold must be in"),
    ("limit=3", "limit must be >= 10"),
    ("format=kitti", "format"),
    ("ignore_threshold=2", "ignore_threshold"),
    ("image_size=16", "image_size must be >= 32"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(YOLOConfig(), [override])


def test_a_stride_the_backbone_lacks_is_a_usage_error():
    from dlsuite.apps.kits.detection.backbone import feature_extractor

    assert feature_extractor("resnet18", (64, 64, 1), 0.125, 16).output.shape[1:3] == (4, 4)
    with pytest.raises(UsageError, match="no feature map at stride 64; its strides are"):
        feature_extractor("resnet18", (64, 64, 1), 0.125, 64)
    with pytest.raises(UsageError, match="not a multiple of stride 24"):
        feature_extractor("resnet18", (64, 64, 1), 0.125, 24)


@pytest.mark.slow
@pytest.mark.parametrize("format", ["coco", "voc", "yolo"])
def test_trains_on_a_user_folder(tmp_path, format):
    from dlsuite.apps.data.annotations import write_detection_set
    from dlsuite.apps.data.scenes import SceneSpec, load_scenes

    scenes = load_scenes("mnist5k", seed=2, spec=SceneSpec(canvas=64, max_scale=2),
                         train_scenes=32, dev_scenes=8, test_scenes=8)
    write_detection_set(tmp_path / "data", {"train": scenes.train, "val": scenes.dev,
                                            "test": scenes.test}, scenes.class_names, format)
    _, metrics = commands.train(
        "yolo", overrides=TINY[:1] + TINY[4:] + [f"data_dir={tmp_path / 'data'}",
                                                 f"format={format}", "epochs=1"],
        strategy="default", precision_name="float32", run_dir=str(tmp_path / "run"), verbose=0)
    assert "detection" in metrics
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert f"your {format} annotations" in record["data"]["source"]
