"""End-to-end tests of the rcnn app (R-CNN, Fast R-CNN, Faster R-CNN): train,
evaluate, export, reload in a fresh process, predict on files, report,
TensorBoard, the proposal cache."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.kits.detection.export import detect_arrays
from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from dlsuite.apps.rcnn import RCNNConfig
from tests.apps.detect_checks import assert_detect_matches_live
from tests.apps.fresh_process import signature_from_fresh_process

TINY = ["image_size=64", "max_scale=2", "max_objects=3", "limit=32", "width=0.125",
        "batch_size=8", "epochs=2", "patience=0", "logged_scenes=2", "head_units=16",
        "rpn_filters=8", "anchor_sizes=16,32", "train_proposals=40", "test_proposals=30",
        "max_proposals=40", "rois_per_image=16", "warp_size=16",
        # Two epochs leave scores low: keep them, so every test sees detections.
        "score_threshold=0.001", "max_detections=20"]


def _train(tmp_path_factory, variant, epochs=2):
    run_dir = tmp_path_factory.mktemp(variant) / "run"
    session, metrics = commands.train("rcnn", overrides=TINY + [f"variant={variant}",
                                                                f"epochs={epochs}"],
                                      strategy="default", precision_name="float32",
                                      run_dir=str(run_dir), verbose=0)
    return session, metrics, run_dir


@pytest.fixture(scope="module")
def faster_run(tmp_path_factory):
    return _train(tmp_path_factory, "faster")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    return _train(tmp_path_factory, "fast", epochs=1)


def _tags(run_dir):
    tags = set()
    for path in (run_dir / "tb" / "validation").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_faster_reports_map_and_the_rpn_recall(faster_run):
    session, metrics, run_dir = faster_run
    detection, found = metrics["detection"], metrics["proposals"]
    assert 0.0 <= detection["map"] <= detection["map_50"] <= 1.0
    assert (detection["error_analysis"]["correct"] + detection["error_analysis"]["missed"]
            == detection["true_objects"])
    assert found["method"] == "region proposal network"
    assert 0.0 <= found["recall_at"]["100"] <= found["recall_at"]["300"] <= 1.0
    report = (run_dir / "report.md").read_text()
    for expected in ("## Proposals", "region proposal network", "mAP@0.5", "proposals.png",
                     "Error analysis"):
        assert expected in report
    for figure in ("proposals.png", "scenes.png", "precision_recall.png"):
        assert (run_dir / figure).stat().st_size > 1000
    rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert all({"val_map_50", "val_rpn_recall_100", "val_rpn_recall_300", "rpn_objectness_loss",
                "class_loss", "region_accuracy"} <= set(row) for row in rows)
    assert rows[-1]["rpn_objectness_loss"] < rows[0]["rpn_objectness_loss"] * 1.5


def test_faster_tensorboard_gets_map_scenes_and_proposals(faster_run):
    tags = _tags(faster_run[2])
    assert {"epoch_map_50", "epoch_rpn_recall_100", "dev_scenes_true_red_predicted_green",
            "dev_precision_recall", "dev_rpn_proposals"} <= tags


def test_faster_detect_matches_the_live_model_in_a_fresh_process(faster_run, tmp_path):
    session, _, run_dir = faster_run
    config, data = session.config, session.data
    images = data.x_test[:4]
    live = session.app.detections(session.model, config, data, images)
    fresh = signature_from_fresh_process(run_dir / "export", "detect", images, tmp_path)
    assert fresh["boxes"].shape == (4, config.max_detections, 4)
    assert_detect_matches_live(fresh, live, data.class_names)


def test_evaluate_reloads_the_best_model_in_safe_mode(faster_run):
    _, metrics, run_dir = faster_run
    results = commands.evaluate(str(run_dir), verbose=0)
    assert results["test"]["class_loss"] == pytest.approx(
        metrics["evaluation"]["test"]["class_loss"], rel=0.3)


def test_fast_detect_takes_proposals_and_matches_in_a_fresh_process(fast_run, tmp_path):
    session, _, run_dir = fast_run
    app, config, data = session.app, session.config, session.data
    images = data.x_test[:3]
    proposals = app.proposals_for(data.x_test, config)[:3]
    live = detect_arrays(app.detections_function(session.model, config, data), images,
                         proposals=proposals)
    fresh = signature_from_fresh_process(run_dir / "export", "detect", images, tmp_path,
                                         proposals)
    assert_detect_matches_live(fresh, live, data.class_names)


def test_fast_detect_scales_proposals_to_the_image(fast_run):
    """Proposals come in the caller's pixels: twice the image, twice the boxes."""
    session, _, run_dir = fast_run
    data = session.data
    loaded = tf.saved_model.load(str(run_dir / "export"))
    image = data.x_test[:1]
    proposals = session.app.proposals_for(data.x_test, session.config)[:1]
    small = loaded.detect(tf.constant(image), tf.constant(proposals))
    big = np.kron(image[0], np.ones((2, 2, 1), np.uint8))[None]
    large = loaded.detect(tf.constant(big), tf.constant(proposals * 2))
    count = int(small["count"][0])
    assert count == int(large["count"][0]) > 0
    # The same boxes, twice as large (near-equal scores may swap places).
    found, expected = large["boxes"].numpy()[0, :count], 2 * small["boxes"].numpy()[0, :count]
    distance = np.abs(found[:, None, :] - expected[None, :, :]).max(-1)
    assert distance.min(1).max() < 1.5


@pytest.mark.parametrize("proposals, message", [
    (np.zeros((2, 5, 4), np.float32), "one batch row per image"),
    (np.zeros((1, 0, 4), np.float32), "received P ="),
    (np.full((1, 5, 4), np.nan, np.float32), "received NaN or inf"),
])
def test_fast_detect_refuses_bad_proposals_clearly(fast_run, proposals, message):
    _, _, run_dir = fast_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"detect expects proposals.*{message}"):
        loaded.detect(tf.constant(np.zeros((1, 64, 64, 1), np.uint8)), tf.constant(proposals))


def test_fast_detect_refuses_proposals_of_another_shape(fast_run):
    _, _, run_dir = fast_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises(TypeError, match="TensorSpec\\(shape=\\(None, None, 4\\)"):
        loaded.detect(tf.constant(np.zeros((1, 64, 64, 1), np.uint8)),
                      tf.constant(np.zeros((1, 5, 3), np.float32)))


def test_fast_caches_the_proposals_in_the_run_and_reuses_them(fast_run):
    session, metrics, run_dir = fast_run
    cached = sorted((run_dir / "proposals").glob("*.npz"))
    assert len(cached) == 3  # train, dev, test
    assert metrics["proposals"]["method"].startswith("selective search")
    before = {path.name: path.stat().st_mtime_ns for path in cached}
    commands.report(str(run_dir), verbose=0)     # reopens the run: reads, never recomputes
    assert {path.name: path.stat().st_mtime_ns
            for path in (run_dir / "proposals").glob("*.npz")} == before
    assert not list((run_dir / "proposals").glob(".*partial*"))


def test_fast_predict_runs_selective_search_on_the_file(fast_run, tmp_path):
    session, _, run_dir = fast_run
    scene = tmp_path / "scene.png"
    scene.write_bytes(tf.io.encode_png(session.data.x_test[0]).numpy())
    lines = commands.predict(str(run_dir), [str(scene)])
    assert lines[0].startswith(f"{scene}: ") and (tmp_path / "scene.detections.png").exists()
    with pytest.raises(UsageError, match="is not an image"):
        (tmp_path / "bad.png").write_bytes(b"no")
        commands.predict(str(run_dir), [str(tmp_path / "bad.png")])


@pytest.mark.slow
def test_rcnn_trains_exports_and_predicts(tmp_path_factory, tmp_path):
    session, metrics, run_dir = _train(tmp_path_factory, "rcnn", epochs=1)
    assert metrics["proposals"]["method"].startswith("selective search")
    assert "detection" in metrics and (run_dir / "proposals.png").exists()
    images = session.data.x_test[:3]
    proposals = session.app.proposals_for(session.data.x_test, session.config)[:3]
    live = detect_arrays(session.app.detections_function(session.model, session.config,
                                                         session.data),
                         images, proposals=proposals)
    fresh = signature_from_fresh_process(run_dir / "export", "detect", images, tmp_path,
                                         proposals)
    assert_detect_matches_live(fresh, live, session.data.class_names)
    scene = tmp_path / "scene.png"
    scene.write_bytes(tf.io.encode_png(images[0]).numpy())
    assert commands.predict(str(run_dir), [str(scene)])[0].startswith(str(scene))


@pytest.mark.slow
def test_faster_trains_under_two_replicas(tmp_path):
    # Every batch splits evenly over the 2 replicas (6 dev and 6 test scenes
    # in batches of 2 x 2): Keras's evaluate() averages the first dev batch
    # across replicas to build the model, which fails on a 3 / 2 split, and
    # the backbone's FusedBatchNormalization fails on a replica's empty batch.
    _, metrics = commands.train("rcnn", overrides=TINY + ["variant=faster", "epochs=1",
                                                          "batch_size=2", "train_scenes=320",
                                                          "dev_scenes=60", "test_scenes=60"],
                                strategy="mirrored", precision_name="float32",
                                run_dir=str(tmp_path / "run"), verbose=0)
    assert np.isfinite(metrics["evaluation"]["train"]["loss"])


@pytest.mark.parametrize("override, message", [
    ("variant=yolo", "variant"),
    ("rpn_negative_iou=0.8", "rpn_negative_iou must be <= rpn_positive_iou"),
    ("foreground_fraction=1.5", "foreground_fraction must be in"),
    ("anchor_sizes=0,16", "anchor_sizes must be positive"),
    ("stride=12", "stride must be a power of two"),
    ("search_mode=slow", "search_mode"),
    ("rois_per_image=0", "rois_per_image must be > 0"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(RCNNConfig(), [override])
