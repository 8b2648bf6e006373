"""What the R-CNN family trains on, in the graph: anchors, RPN targets,
proposals, sampled regions of interest, their targets and the losses.

Boxes are ``xyxy`` in the model's input pixels. Box targets are
``keras.utils.bounding_boxes.encode_box_to_deltas`` in ``center_xywh``
(``tx = (x - xa) / wa``, ``tw = log(w / wa)``...), divided by
:data:`ROI_VARIANCE` for the second stage as in Fast R-CNN's normalised
targets, and plain for the RPN. Matching is keras-hub's ``BoxMatcher``;
anchors are keras-hub's ``AnchorGenerator``. Random choices (which anchors
and regions a step trains on) are stateless, seeded by ``(seed, step,
replica)``, so a resumed run and every replica draw what they would have.
"""

import math

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.detection.boxes import convert, iou

# Fast R-CNN's target normalisation: x, y deltas / 0.1, w, h deltas / 0.2.
ROI_VARIANCE = (0.1, 0.1, 0.2, 0.2)
# exp() of a predicted log-size is capped here (torchvision's log(1000 / 16)).
MAX_LOG_SIZE = math.log(1000.0 / 16.0)


def anchors(image_size, stride, sizes, ratios):
    """``(rows * cols * A, 4)`` xyxy anchors of a ``image_size / stride``
    map: at each cell, ``len(sizes) * len(ratios)`` boxes of area ``size^2``
    and height / width ``ratio``, in the order of :class:`dlsuite.layers.RPNHead`'s
    rows. Each size is one keras-hub ``AnchorGenerator`` at the map's level;
    its anchors are centred on cell corners, so they are moved half a
    stride to the cell centres, where the head's receptive field is."""
    level = int(round(math.log2(stride)))
    if 2 ** level != stride:
        raise ValueError(f"stride must be a power of two for anchors. Received: stride={stride}")
    probe = np.zeros((1, image_size, image_size, 1), np.float32)
    per_size = []
    for size in sizes:
        generator = keras_hub.layers.AnchorGenerator(
            "xyxy", min_level=level, max_level=level, num_scales=1, aspect_ratios=list(ratios),
            anchor_size=float(size) / stride)
        boxes = keras.ops.convert_to_numpy(generator(probe)[f"P{level}"])
        per_size.append(boxes.reshape(-1, len(ratios), 4))
    return (np.concatenate(per_size, axis=1).reshape(-1, 4) + stride / 2.0).astype(np.float32)


def _replica_seed(seed, step, stream):
    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    step = tf.cast(step, tf.int64)
    return tf.stack([tf.constant(seed, tf.int64),
                     step * 64 + tf.cast(replica, tf.int64) * 4 + stream])


def truth_parts(truths):
    """Padded ``(B, M, 5)`` rows -> boxes ``(B, M, 4)``, classes ``(B, M)`` int32
    and the mask of real rows."""
    truths = tf.cast(truths, tf.float32)
    return truths[..., :4], tf.cast(truths[..., 4], tf.int32), truths[..., 4] >= 0


def overlaps(boxes, boxes_valid, truth_boxes, truth_valid):
    """IoU ``(B, K, M)``; -1 where either box is padding."""
    found = iou(boxes, truth_boxes)
    valid = tf.logical_and(boxes_valid[:, :, None], truth_valid[:, None, :])
    return tf.where(valid, found, -1.0)


def encode(boxes, targets, variance=None):
    return keras.utils.bounding_boxes.encode_box_to_deltas(
        boxes, targets, anchor_format="xyxy", box_format="xyxy", encoding_format="center_xywh",
        variance=variance)


def decode(boxes, deltas, variance=None):
    deltas = tf.concat([deltas[..., :2], tf.minimum(deltas[..., 2:], MAX_LOG_SIZE
                                                    / (1.0 if variance is None else variance[2]))],
                       axis=-1)
    return keras.utils.bounding_boxes.decode_deltas_to_boxes(
        boxes, deltas, anchor_format="xyxy", box_format="xyxy", encoded_format="center_xywh",
        variance=variance)


def clip(boxes, image_size):
    return tf.clip_by_value(boxes, 0.0, float(image_size))


def _balanced_choice(positive, negative, count, positive_count, seed):
    """Indices ``(B, count)`` of up to ``positive_count`` random positives
    followed by random negatives, and a mask of the filled places."""
    noise = tf.random.stateless_uniform(tf.shape(positive), seed=seed)
    available = tf.shape(positive)[1]
    pad = tf.maximum(count - available, 0)
    positive = tf.pad(positive, [[0, 0], [0, pad]])
    negative = tf.pad(negative, [[0, 0], [0, pad]])
    noise = tf.pad(noise, [[0, 0], [0, pad]])
    positives = tf.minimum(tf.reduce_sum(tf.cast(positive, tf.int32), 1), positive_count)
    negatives = tf.minimum(tf.reduce_sum(tf.cast(negative, tf.int32), 1), count - positives)
    first = tf.math.top_k(tf.where(positive, noise, -1.0), k=count).indices
    rest = tf.math.top_k(tf.where(negative, noise, -1.0), k=count).indices
    place = tf.range(count)[None, :]
    is_positive = place < positives[:, None]
    shifted = tf.maximum(place - positives[:, None], 0)
    chosen = tf.where(is_positive, first, tf.gather(rest, shifted, batch_dims=1))
    filled = tf.logical_or(is_positive, shifted < negatives[:, None])
    return chosen, is_positive, filled


def rpn_targets(anchor_boxes, truths, settings, step):
    """Per anchor: ``labels (B, N)`` 1 positive, 0 negative, -1 not trained
    this step, and box targets ``(B, N, 4)``.

    keras-hub's ``BoxMatcher`` marks an anchor positive at IoU >=
    ``rpn_positive_iou`` with a true box and negative below
    ``rpn_negative_iou``; each true box's best anchors are positive too
    (Faster R-CNN's second condition). ``rpn_batch`` anchors per image are
    sampled, at most half positive.
    """
    truth_boxes, _, truth_valid = truth_parts(truths)
    batch = tf.shape(truths)[0]
    count = anchor_boxes.shape[0]
    tiled = tf.broadcast_to(anchor_boxes[None], [batch, count, 4])
    similarity = overlaps(tiled, tf.ones([batch, count], tf.bool), truth_boxes, truth_valid)
    matcher = keras_hub.layers.BoxMatcher(
        thresholds=[settings["rpn_negative_iou"], settings["rpn_positive_iou"]],
        match_values=[0, -1, 1])
    matched, values = matcher(similarity)
    best = tf.reduce_max(similarity, axis=1, keepdims=True)
    is_best = tf.logical_and(tf.equal(similarity, best), best > 0.0)
    best_column = tf.argmax(tf.cast(is_best, tf.float32) * similarity, axis=-1, output_type=tf.int32)
    forced = tf.reduce_any(is_best, axis=-1)
    matched = tf.where(forced, best_column, matched)
    values = tf.where(forced, 1, values)
    chosen, _, filled = _balanced_choice(
        tf.equal(values, 1), tf.equal(values, 0), settings["rpn_batch"],
        settings["rpn_batch"] // 2, _replica_seed(settings["seed"], step, 1))
    sampled = tf.scatter_nd(
        tf.stack([tf.broadcast_to(tf.range(batch)[:, None], tf.shape(chosen)), chosen], -1),
        tf.cast(filled, tf.int32), [batch, count])
    labels = tf.where(sampled > 0, values, -1)
    targets = encode(tiled, tf.gather(truth_boxes, matched, batch_dims=1))
    return tf.stop_gradient(labels), tf.stop_gradient(targets)


def smooth_l1(difference, beta=1.0 / 9.0):
    """Huber loss per element (Fast R-CNN's smooth L1, torchvision's beta)."""
    absolute = tf.abs(difference)
    return tf.where(absolute < beta, 0.5 * absolute ** 2 / beta, absolute - 0.5 * beta)


def rpn_losses(logits, deltas, labels, targets):
    """Per image: binary cross-entropy of the sampled anchors' objectness and
    smooth L1 of the positives' deltas, both over the sampled count."""
    sampled = tf.cast(labels >= 0, tf.float32)
    positive = tf.cast(labels > 0, tf.float32)
    count = tf.maximum(tf.reduce_sum(sampled, 1), 1.0)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=positive, logits=logits)
    objectness = tf.reduce_sum(cross_entropy * sampled, 1) / count
    box = tf.reduce_sum(tf.reduce_sum(smooth_l1(deltas - targets), -1) * positive, 1) / count
    return objectness, box


def propose(anchor_boxes, logits, deltas, settings, count):
    """The RPN's top ``count`` proposals after NMS: boxes ``(B, count, 4)``,
    their objectness ``(B, count)`` and a mask of the real ones. Boxes are
    decoded, clipped to the image, those under ``min_proposal_size`` pixels
    a side dropped, the best ``pre_nms_proposals`` kept, then NMS at
    ``rpn_nms_iou``. No gradient flows back (approximate joint training)."""
    logits = tf.stop_gradient(tf.cast(logits, tf.float32))
    boxes = clip(decode(anchor_boxes[None], tf.stop_gradient(tf.cast(deltas, tf.float32))),
                 settings["image_size"])
    size = settings["min_proposal_size"]
    large = tf.logical_and(boxes[..., 2] - boxes[..., 0] >= size,
                           boxes[..., 3] - boxes[..., 1] >= size)
    scores = tf.where(large, tf.sigmoid(logits), 0.0)
    keep = min(settings["pre_nms_proposals"], anchor_boxes.shape[0])
    top = tf.math.top_k(scores, k=keep)
    boxes = tf.gather(boxes, top.indices, batch_dims=1)
    found = tf.image.combined_non_max_suppression(
        convert(boxes, "xyxy", "yxyx")[:, :, None, :], top.values[:, :, None],
        max_output_size_per_class=count, max_total_size=count,
        iou_threshold=settings["rpn_nms_iou"], score_threshold=1e-6, clip_boxes=False,
        pad_per_class=False)
    valid = tf.sequence_mask(found.valid_detections, count)
    proposals = convert(found.nmsed_boxes, "yxyx", "xyxy")
    return tf.stop_gradient(proposals), tf.stop_gradient(found.nmsed_scores), valid


def proposal_mask(proposals):
    """Real rows of padded proposals: those with a positive area."""
    return tf.logical_and(proposals[..., 2] > proposals[..., 0],
                          proposals[..., 3] > proposals[..., 1])


def sample_rois(candidates, valid, truths, settings, step):
    """``rois_per_image`` regions per image for the second stage: up to
    ``foreground_fraction`` of them foreground (IoU >= ``foreground_iou``
    with a true box, which they take the class of), the rest background.
    The true boxes are candidates too (Fast R-CNN, section 2.3).

    Returns rois ``(B, R, 4)``, labels ``(B, R)`` (0 background, class + 1),
    box targets ``(B, R, 4)`` against the matched true box (normalised by
    :data:`ROI_VARIANCE`) and weights ``(B, R)`` (0 where an image had
    too few candidates).
    """
    truth_boxes, truth_classes, truth_valid = truth_parts(truths)
    candidates = tf.concat([tf.cast(candidates, tf.float32), truth_boxes], axis=1)
    valid = tf.concat([valid, truth_valid], axis=1)
    similarity = overlaps(candidates, valid, truth_boxes, truth_valid)
    matcher = keras_hub.layers.BoxMatcher(thresholds=[settings["foreground_iou"]],
                                          match_values=[0, 1])
    matched, values = matcher(similarity)
    foreground = tf.logical_and(valid, tf.equal(values, 1))
    background = tf.logical_and(valid, tf.logical_not(foreground))
    count = settings["rois_per_image"]
    chosen, is_foreground, filled = _balanced_choice(
        foreground, background, count, int(round(count * settings["foreground_fraction"])),
        _replica_seed(settings["seed"], step, 2))
    padded = tf.pad(candidates, [[0, 0], [0, tf.maximum(count - tf.shape(candidates)[1], 0)],
                                 [0, 0]])
    rois = tf.gather(padded, chosen, batch_dims=1)
    matched = tf.pad(matched, [[0, 0], [0, tf.maximum(count - tf.shape(matched)[1], 0)]])
    truth_index = tf.gather(matched, chosen, batch_dims=1)
    classes = tf.gather(truth_classes, truth_index, batch_dims=1)
    labels = tf.where(is_foreground, classes + 1, 0)
    targets = encode(rois, tf.gather(truth_boxes, truth_index, batch_dims=1), ROI_VARIANCE)
    targets = tf.where(is_foreground[..., None], targets, 0.0)
    return (tf.stop_gradient(rois), tf.stop_gradient(labels), tf.stop_gradient(targets),
            tf.cast(filled, tf.float32))


def head_losses(class_logits, deltas, labels, targets, weights):
    """Fast R-CNN's multi-task loss per image: cross-entropy over the C + 1
    classes of the sampled regions, plus smooth L1 of the true class's
    deltas on the foreground ones, both over the sampled count."""
    class_logits = tf.cast(class_logits, tf.float32)
    deltas = tf.cast(deltas, tf.float32)
    count = tf.maximum(tf.reduce_sum(weights, 1), 1.0)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                   logits=class_logits)
    class_loss = tf.reduce_sum(cross_entropy * weights, 1) / count
    foreground = tf.cast(labels > 0, tf.float32) * weights
    own = tf.gather(deltas, tf.maximum(labels - 1, 0)[..., None], batch_dims=2)[..., 0, :]
    box_loss = tf.reduce_sum(tf.reduce_sum(smooth_l1(own - targets), -1) * foreground, 1) / count
    accuracy = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(class_logits, -1, output_type=tf.int32),
                                              labels), tf.float32) * weights, 1) / count
    return class_loss, box_loss, accuracy


def detections(rois, valid, class_logits, deltas, image_size):
    """Per region and class: the refined box ``(B, R, C, 4)`` and the class
    probability ``(B, R, C)`` (0 for padded regions), before per-class NMS."""
    probabilities = tf.nn.softmax(tf.cast(class_logits, tf.float32), axis=-1)[..., 1:]
    probabilities = probabilities * tf.cast(valid, tf.float32)[..., None]
    boxes = decode(tf.cast(rois, tf.float32)[:, :, None, :], tf.cast(deltas, tf.float32),
                   ROI_VARIANCE)
    return clip(boxes, image_size), probabilities


def recall(proposals, valid, truths, counts=(100, 300), threshold=0.5):
    """Share of true boxes (numpy ``(N, M, 5)``) that one of the first
    ``count`` proposals (numpy ``(N, P, 4)``, padded) overlaps by
    ``threshold`` IoU or more, for each count."""
    from dlsuite.apps.kits.detection.evaluation import pairwise_iou

    found = {count: 0 for count in counts}
    total = 0
    for boxes, mask, rows in zip(proposals, valid, truths):
        rows = np.asarray(rows).reshape(-1, 5)
        rows = rows[rows[:, 4] >= 0]
        total += len(rows)
        boxes = np.asarray(boxes)[np.asarray(mask, bool)]
        for count in counts:
            if len(rows) and len(boxes[:count]):
                found[count] += int((pairwise_iou(boxes[:count], rows[:, :4]).max(0)
                                     >= threshold).sum())
    return {count: found[count] / max(total, 1) for count in counts}
