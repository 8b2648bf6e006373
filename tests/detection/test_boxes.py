"""Box IoU, format conversion and per-class NMS against numpy references
written here, on the edge cases: no overlap, containment, identical boxes,
zero-area boxes."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.kits.detection.boxes import convert, iou, non_max_suppression
from dlsuite.apps.kits.detection.evaluation import pairwise_iou


def reference_iou(a, b):
    """IoU of two xyxy boxes, by hand; zero when the union is empty."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


EDGE_CASES = {
    "no overlap": ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
    "touching edges": ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),
    "containment": ([0, 0, 10, 10], [2, 2, 7, 7], 25 / 100),
    "identical": ([3, 4, 13, 24], [3, 4, 13, 24], 1.0),
    "partial": ([0, 0, 10, 10], [5, 5, 15, 15], 25 / 175),
    "zero-area inside a box": ([5, 5, 5, 5], [0, 0, 10, 10], 0.0),
    "two zero-area boxes": ([5, 5, 5, 5], [5, 5, 5, 5], 0.0),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_iou_equals_the_reference(name):
    first, second, expected = EDGE_CASES[name]
    assert reference_iou(first, second) == pytest.approx(expected)
    keras_value = float(np.asarray(iou(np.array([first], "float32"),
                                       np.array([second], "float32")))[0, 0])
    assert keras_value == pytest.approx(expected, abs=1e-6)
    assert pairwise_iou([first], [second])[0, 0] == pytest.approx(expected, abs=1e-9)


def test_pairwise_and_batched_iou():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 50, (2, 5, 2, 2))
    boxes = np.concatenate([corners.min(2), corners.max(2)], axis=-1).astype("float32")
    got = np.asarray(iou(boxes, boxes[:, :3]))
    assert got.shape == (2, 5, 3)
    for n in range(2):
        for i in range(5):
            for j in range(3):
                assert got[n, i, j] == pytest.approx(reference_iou(boxes[n, i], boxes[n, j]),
                                                     abs=1e-5)


def test_format_conversions_round_trip():
    boxes = np.array([[2, 4, 12, 24], [0, 0, 1, 1]], "float32")
    np.testing.assert_allclose(convert(boxes, "xyxy", "yxyx"), [[4, 2, 24, 12], [0, 0, 1, 1]])
    np.testing.assert_allclose(convert(boxes, "xyxy", "center_xywh"),
                               [[7, 14, 10, 20], [0.5, 0.5, 1, 1]])
    np.testing.assert_allclose(convert(convert(boxes, "xyxy", "center_yxhw"), "center_yxhw",
                                       "xyxy"), boxes)


def reference_nms(boxes, scores, iou_threshold, score_threshold):
    """Greedy per-class NMS, by hand: [(box index, class, score)] by score."""
    kept = []
    for label in range(scores.shape[1]):
        order = [i for i in np.argsort(-scores[:, label], kind="stable")
                 if scores[i, label] > score_threshold]
        chosen = []
        for i in order:
            if all(reference_iou(boxes[i], boxes[j]) <= iou_threshold for j in chosen):
                chosen.append(i)
        kept += [(i, label, scores[i, label]) for i in chosen]
    return sorted(kept, key=lambda item: -item[2])


def test_per_class_nms_equals_the_reference():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [30, 30, 40, 40],
                      [2, 2, 7, 7], [5, 5, 5, 5]], "float32")
    scores = np.array([[0.9, 0.0], [0.8, 0.1], [0.0, 0.7], [0.6, 0.65], [0.55, 0.0],
                       [0.5, 0.0]], "float32")
    found_boxes, found_scores, classes, count = (
        np.asarray(t) for t in non_max_suppression(boxes[None], scores[None], max_detections=10,
                                                   iou_threshold=0.5, score_threshold=0.05))
    expected = reference_nms(boxes, scores, 0.5, 0.05)
    assert int(count[0]) == len(expected)
    # Identical boxes of two classes both survive; the near-duplicate of class 0 does not;
    # the contained box (IoU 0.25) and the zero-area box (IoU 0) survive.
    assert sorted((i, c) for i, c, _ in expected) == [(0, 0), (2, 1), (3, 0), (3, 1), (4, 0),
                                                      (5, 0)]
    np.testing.assert_allclose(found_scores[0, :len(expected)], [s for _, _, s in expected])
    np.testing.assert_array_equal(classes[0, :len(expected)], [c for _, c, _ in expected])
    np.testing.assert_allclose(found_boxes[0, :len(expected)], boxes[[i for i, _, _ in expected]])
    assert not found_scores[0, len(expected):].any()


def test_nms_on_an_empty_batch_row_and_all_low_scores():
    boxes = tf.zeros((2, 4, 4))
    scores = tf.fill((2, 4, 3), 0.01)
    _, _, _, count = non_max_suppression(boxes, scores, max_detections=5, score_threshold=0.05)
    np.testing.assert_array_equal(np.asarray(count), [0, 0])
