"""The R-CNN family's training parts against what they must compute:
anchors, RPN targets, region sampling, losses, proposals, selective search
and its cache."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.data import region_proposals as search_module
from dlsuite.apps.rcnn import proposals as search
from dlsuite.apps.rcnn import targets

SETTINGS = {"rpn_positive_iou": 0.7, "rpn_negative_iou": 0.3, "rpn_batch": 32, "seed": 3,
            "rois_per_image": 16, "foreground_fraction": 0.25, "foreground_iou": 0.5,
            "image_size": 64, "min_proposal_size": 2.0, "pre_nms_proposals": 100,
            "rpn_nms_iou": 0.7}


def _iou(a, b):
    from dlsuite.apps.kits.detection.evaluation import pairwise_iou

    return pairwise_iou(a, b)


def test_anchors_have_the_sizes_and_ratios_at_every_cell_centre():
    boxes = targets.anchors(64, 8, sizes=(16, 32), ratios=(1.0, 2.0))
    assert boxes.shape == (8 * 8 * 4, 4)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    np.testing.assert_allclose(np.sqrt(width * height)[:4], [16, 16 * 1.0, 32, 32], rtol=0.1)
    np.testing.assert_allclose((height / width)[:4], [1, 2, 1, 2], rtol=0.1)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    np.testing.assert_allclose(centres[0], [4, 4])          # first cell's centre
    np.testing.assert_allclose(centres[4], [12, 4])         # the next cell along the row
    with pytest.raises(ValueError, match="power of two"):
        targets.anchors(64, 12, (16,), (1.0,))


def test_rpn_targets_follow_the_thresholds_and_the_best_anchor_rule():
    boxes = targets.anchors(64, 8, sizes=(16, 32), ratios=(1.0, 2.0))
    truths = np.full((1, 3, 5), -1, np.float32)
    truths[0, 0] = [8, 8, 24, 40, 2]            # tall: matches a 2:1 anchor well
    truths[0, 1] = [40, 40, 43, 44, 5]          # tiny: no anchor reaches 0.7
    labels, deltas = (t.numpy() for t in targets.rpn_targets(
        tf.constant(boxes), tf.constant(truths), dict(SETTINGS, rpn_batch=len(boxes)), 0))
    overlap = _iou(boxes, truths[0, :2, :4])
    best = overlap.max(1)
    positive = labels[0] == 1
    assert positive.any()
    # Every positive either overlaps by >= 0.7 or is a true box's best anchor.
    best_of_truth = (overlap == overlap.max(0)) & (overlap > 0)
    assert np.all((best[positive] >= 0.7) | best_of_truth[positive].any(1))
    assert best_of_truth[:, 1].any() and positive[best_of_truth[:, 1]].all()
    assert np.all(best[labels[0] == 0] < 0.3)
    # Each positive's deltas decode to its true box.
    decoded = targets.decode(tf.constant(boxes[positive]), tf.constant(deltas[0, positive])).numpy()
    matched = truths[0, overlap[positive].argmax(1), :4]
    np.testing.assert_allclose(decoded, matched, atol=1e-3)


def test_rpn_samples_at_most_half_positives():
    boxes = targets.anchors(64, 8, sizes=(16, 32), ratios=(1.0, 2.0))
    truths = np.array([[[8, 8, 24, 40, 2], [30, 10, 62, 42, 1]]], np.float32)
    labels = targets.rpn_targets(tf.constant(boxes), tf.constant(truths), SETTINGS, 5)[0].numpy()
    assert (labels >= 0).sum() == 32
    assert 0 < (labels == 1).sum() <= 16


def test_sampled_rois_take_the_class_of_a_box_they_overlap():
    truths = np.full((2, 2, 5), -1, np.float32)
    truths[0, 0] = [10, 10, 30, 40, 4]
    truths[1] = [[5, 5, 25, 25, 0], [40, 30, 60, 60, 9]]
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 64, (2, 30, 2, 2))
    candidates = np.concatenate([corners.min(2), corners.max(2)], -1).astype(np.float32)
    candidates[0, 5:] = 0                           # padding rows
    valid = targets.proposal_mask(tf.constant(candidates))
    rois, labels, deltas, weights = (t.numpy() for t in targets.sample_rois(
        tf.constant(candidates), valid, tf.constant(truths), SETTINGS, 7))
    assert rois.shape == (2, 16, 4)
    for image in range(2):
        real = truths[image][truths[image, :, 4] >= 0]
        overlap = _iou(rois[image], real[:, :4])
        foreground = labels[image] > 0
        assert 0 < foreground.sum() <= 4            # a quarter of 16, the true boxes included
        np.testing.assert_array_equal(labels[image, foreground] - 1,
                                      real[overlap[foreground].argmax(1), 4])
        assert np.all(overlap[foreground].max(1) >= 0.5)
        used = weights[image] > 0
        assert np.all(overlap[used & ~foreground].max(1) < 0.5)
        assert not deltas[image, ~foreground].any()
    # Image 0 has 5 real candidates + 1 true box: the rest of its 16 are unused.
    assert weights[0].sum() == 6 and weights[1].sum() == 16


def test_head_losses_vanish_for_a_perfect_prediction():
    labels = tf.constant([[2, 0, 1]])
    box_targets = tf.constant([[[0.1, -0.2, 0.3, 0.0], [0, 0, 0, 0], [1.0, 0, 0, -1.0]]])
    logits = tf.one_hot(labels, 3) * 50.0
    deltas = tf.zeros([1, 3, 2, 4]).numpy()
    deltas[0, 0, 1] = box_targets[0, 0]
    deltas[0, 2, 0] = box_targets[0, 2]
    class_loss, box_loss, accuracy = targets.head_losses(logits, tf.constant(deltas), labels,
                                                         box_targets, tf.ones([1, 3]))
    assert float(class_loss[0]) < 1e-6 and float(box_loss[0]) < 1e-6
    assert float(accuracy[0]) == 1.0
    wrong = tf.constant(np.roll(deltas, 1, axis=2))
    assert float(targets.head_losses(logits, wrong, labels, box_targets,
                                     tf.ones([1, 3]))[1][0]) > 0.1


def test_proposals_are_sorted_boxes_inside_the_image_after_nms():
    boxes = targets.anchors(64, 8, sizes=(16,), ratios=(1.0,))
    logits = tf.constant(np.random.default_rng(1).normal(size=(1, len(boxes))), tf.float32)
    deltas = tf.zeros([1, len(boxes), 4])
    found, scores, valid = (t.numpy() for t in targets.propose(
        tf.constant(boxes), logits, deltas, SETTINGS, 20))
    found, scores = found[0][valid[0]], scores[0][valid[0]]
    assert 0 < len(found) <= 20
    assert np.all(np.diff(scores) <= 0)
    assert found.min() >= 0 and found.max() <= 64
    overlap = _iou(found, found)
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= 0.7 + 1e-6


def test_recall_counts_boxes_found_by_the_first_proposals():
    truths = np.array([[[0, 0, 10, 10, 1], [20, 20, 30, 30, 2], [-1, -1, -1, -1, -1]]],
                      np.float32)
    proposals = np.array([[[0, 0, 10, 11], [50, 50, 60, 60], [20, 20, 30, 30]]], np.float32)
    found = targets.recall(proposals, np.ones((1, 3), bool), truths, counts=(1, 2, 3))
    assert found == {1: 0.5, 2: 0.5, 3: 1.0}


def _scene():
    image = np.zeros((64, 64, 1), np.uint8)
    image[10:30, 12:20] = 255
    image[35:60, 40:55] = 180
    return image


def test_selective_search_finds_the_objects():
    settings = search.SearchSettings(max_proposals=30)
    boxes = search.search(_scene(), settings)
    assert 0 < len(boxes) <= 30
    assert boxes.min() >= 0 and boxes[:, 2:].max() <= 64
    assert np.all(boxes[:, 2:] - boxes[:, :2] >= settings.min_size)
    overlap = _iou(boxes, np.array([[12, 10, 20, 30], [40, 35, 55, 60]], np.float32))
    assert np.all(overlap.max(0) >= 0.7)


def test_the_cache_computes_once_and_keys_by_images_and_settings(tmp_path):
    settings = search.SearchSettings(max_proposals=20)
    images = np.stack([_scene(), _scene()[::-1]])
    cache = search.ProposalCache(tmp_path, settings, say=None)
    first = cache.get(images)
    assert first.shape == (2, 20, 4) and len(list(tmp_path.glob("*.npz"))) == 1
    again = search.ProposalCache(tmp_path, settings, say=None).get(images)
    np.testing.assert_array_equal(again, first)
    search.ProposalCache(tmp_path, settings, say=None).get(images[:1])
    search.ProposalCache(tmp_path, search.SearchSettings(max_proposals=10), say=None).get(images)
    assert len(list(tmp_path.glob("*.npz"))) == 3
    # A torn or foreign file is computed again, not trusted.
    path = next(iter(tmp_path.glob(f"{search.fingerprint(images, settings)}.npz")))
    path.write_bytes(b"not an npz")
    np.testing.assert_array_equal(search.ProposalCache(tmp_path, settings, say=None).get(images),
                                  first)


def test_a_missing_opencv_contrib_names_the_package(monkeypatch):
    import builtins

    real = builtins.__import__

    def without_cv2(name, *args, **kwargs):
        if name == "cv2":
            raise ImportError("no cv2")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_cv2)
    from dlsuite.apps.errors import UsageError

    with pytest.raises(UsageError, match="opencv-contrib-python-headless"):
        search.search(_scene(), search.SearchSettings())


def test_selective_search_is_a_function_of_the_image_and_settings():
    """OpenCV ranks regions with rand(); search() seeds it per image, and
    worker processes give what one process gives."""
    settings = search.SearchSettings(max_proposals=25)
    rng = np.random.default_rng(0)
    images = np.zeros((2 * search_module.POOL_FROM, 32, 32, 1), np.uint8)
    for image in images:
        top, left = rng.integers(0, 20, 2)
        image[top:top + 10, left:left + 6] = rng.integers(100, 255)
        image[rng.integers(0, 32, 30), rng.integers(0, 32, 30)] = 90
    inline = search_module._search_chunk(images, settings)
    np.testing.assert_array_equal(search_module._search_chunk(images[::-1], settings)[::-1], inline)
    np.testing.assert_array_equal(search.search_all(images, settings, workers=2), inline)
