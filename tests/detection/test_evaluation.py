"""The mAP evaluator against pycocotools called directly and against a
hand computation, and the error analysis on each kind of error."""

import numpy as np
import pytest

from dlsuite.apps.kits.detection.evaluation import classify_detections, coco_evaluate, error_analysis

TRUTHS = np.array([
    [[10, 10, 30, 30, 0], [50, 50, 80, 90, 1], [-1, -1, -1, -1, -1]],
    [[0, 0, 20, 40, 1], [60, 10, 90, 30, 0], [30, 60, 50, 95, 2]],
], "float32")
# Per image: boxes, scores, classes: hits, a duplicate, a mislocalised box,
# a wrong class and a background box.
DETECTIONS = [
    (np.array([[11, 10, 30, 31], [50, 52, 80, 90], [12, 12, 31, 30], [60, 0, 70, 10]]),
     np.array([0.9, 0.8, 0.6, 0.3]), np.array([0, 1, 0, 2])),
    (np.array([[0, 0, 20, 40], [60, 10, 75, 20], [30, 60, 50, 95]]),
     np.array([0.95, 0.7, 0.5]), np.array([1, 0, 0])),
]


def _direct_pycocotools(truths, detections):
    """pycocotools itself, written out in the test."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground = COCO()
    annotations = []
    for image, rows in enumerate(truths):
        for x1, y1, x2, y2, label in rows[rows[:, 4] >= 0]:
            annotations.append({"id": len(annotations) + 1, "image_id": image + 1,
                                "category_id": int(label) + 1, "iscrowd": 0,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)})
    ground.dataset = {"images": [{"id": i + 1, "height": 100, "width": 100}
                                 for i in range(len(truths))],
                      "annotations": annotations,
                      "categories": [{"id": c + 1} for c in range(3)]}
    results = [{"image_id": image + 1, "category_id": int(c) + 1, "score": float(s),
                "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
               for image, (boxes, scores, classes) in enumerate(detections)
               for b, s, c in zip(boxes, scores, classes)]
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        evaluator = COCOeval(ground, ground.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def test_map_equals_pycocotools_called_directly():
    result = coco_evaluate(TRUTHS, DETECTIONS, 3, (100, 100))
    stats = _direct_pycocotools(TRUTHS, DETECTIONS)
    assert result["map_50"] == pytest.approx(stats[1])
    assert result["map"] == pytest.approx(stats[0])
    assert 0 < result["map"] < result["map_50"] < 1


def test_ap_by_hand_on_a_small_case():
    truths = np.array([[[0, 0, 10, 10, 0], [20, 20, 30, 30, 0]]], "float32")
    # Ranked: hit, false positive, hit -> precision 1 at recall 0.5, 2/3 at recall 1.
    detections = [(np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]]),
                   np.array([0.9, 0.8, 0.7]), np.array([0, 0, 0]))]
    result = coco_evaluate(truths, detections, 1, (100, 100))
    # COCO's 101-point interpolated AP: recall 0..0.5 (51 points) at precision 1,
    # 0.51..1.0 (50 points) at 2/3.
    expected = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert result["map_50"] == pytest.approx(expected, abs=1e-6)
    assert result["ap_50_per_class"] == [pytest.approx(expected, abs=1e-6)]
    perfect = coco_evaluate(truths, [(truths[0, :, :4], np.array([0.9, 0.8]), np.array([0, 0]))],
                            1, (100, 100))
    assert perfect["map_50"] == pytest.approx(1.0) and perfect["map"] == pytest.approx(1.0)


def test_no_detections_score_zero_and_classes_without_truth_are_none():
    assert coco_evaluate(TRUTHS, [(np.zeros((0, 4)), np.zeros(0), np.zeros(0))] * 2, 3,
                         (100, 100))["map_50"] == 0.0
    result = coco_evaluate(TRUTHS[:1], DETECTIONS[:1], 4, (100, 100))
    assert result["ap_50_per_class"][2] is None and result["ap_50_per_class"][3] is None


def test_error_analysis_sorts_each_kind():
    kinds, missed = classify_detections(TRUTHS[0], *DETECTIONS[0])
    assert kinds == ["correct", "correct", "duplicate", "background"]
    assert missed.tolist() == []
    kinds, missed = classify_detections(TRUTHS[1], *DETECTIONS[1])
    # Box 2 (class 0) sits exactly on a class-2 truth: wrong class. Box 1 overlaps
    # its class-0 truth by IoU 0.25: mislocalised, and that truth is missed.
    assert kinds == ["correct", "mislocalised", "wrong class"]
    assert missed.tolist() == [1, 2]
    counts = error_analysis(TRUTHS, DETECTIONS, score_threshold=0.4)["counts"]
    # The 0.3 background box is under the threshold.
    assert counts == {"correct": 3, "duplicate": 1, "mislocalised": 1, "wrong class": 1,
                      "background": 0, "missed": 2}
