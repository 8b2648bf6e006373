"""anchor_kmeans: 1 - IoU k-means against a numpy reference."""

import keras
import numpy as np
import pytest

from dlsuite.layers import anchor_kmeans, mean_best_iou


def _iou(sizes, centroids):
    inter = (np.minimum(sizes[:, None, 0], centroids[None, :, 0])
             * np.minimum(sizes[:, None, 1], centroids[None, :, 1]))
    return inter / (sizes[:, None].prod(-1) + centroids[None].prod(-1) - inter)


def _reference(sizes, k, iterations=100):
    order = np.argsort(sizes.prod(-1), kind="stable")
    centroids = sizes[order][[int((i + 0.5) * len(sizes) / k) for i in range(k)]]
    for _ in range(iterations):
        nearest = _iou(sizes, centroids).argmax(1)
        centroids = np.stack([sizes[nearest == j].mean(0) if np.any(nearest == j)
                              else centroids[j] for j in range(k)])
    return centroids[np.argsort(centroids.prod(-1))]


def test_equals_the_reference_and_fits_better_with_more_anchors():
    rng = np.random.default_rng(3)
    sizes = np.concatenate([rng.uniform(8, 16, (60, 2)), rng.uniform(30, 60, (40, 2)),
                            rng.uniform([10, 40], [20, 80], (30, 2))]).astype("float32")
    anchors = keras.ops.convert_to_numpy(anchor_kmeans(sizes, 3))
    np.testing.assert_allclose(anchors, _reference(sizes, 3), rtol=1e-5)
    fits = [float(mean_best_iou(sizes, anchor_kmeans(sizes, k))) for k in (1, 3, 6)]
    assert fits[0] < fits[1] < fits[2] <= 1.0
    # The three clusters are found: every box's best anchor fits it well.
    assert fits[1] > 0.7


def test_identical_boxes_give_that_box():
    sizes = np.tile([[12.0, 20.0]], (5, 1))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(anchor_kmeans(sizes, 2)),
                               [[12, 20], [12, 20]])


@pytest.mark.parametrize("sizes, k, message", [
    (np.ones((2, 2)), 3, "at least num_anchors"),
    (np.ones((4, 3)), 2, "\\(N, 2\\)"),
    (np.array([[1.0, 0.0], [2.0, 2.0]]), 1, "positive"),
    (np.ones((4, 2)), 0, "num_anchors"),
])
def test_bad_input_is_a_clear_error(sizes, k, message):
    with pytest.raises(ValueError, match=message):
        anchor_kmeans(sizes, k)
