"""Box operations every detection app shares, from the libraries that have them.

Box formats and IoU are ``keras.utils.bounding_boxes``'; per-class non-max
suppression is ``tf.image.combined_non_max_suppression``. Boxes are
``"xyxy"`` (``x1, y1, x2, y2``) in pixels unless a name says otherwise.
"""

import keras
import tensorflow as tf


def iou(boxes1, boxes2, bounding_box_format="xyxy"):
    """Pairwise IoU ``(..., K1, K2)`` (``keras.utils.bounding_boxes.compute_iou``)."""
    return keras.utils.bounding_boxes.compute_iou(boxes1, boxes2, bounding_box_format)


def convert(boxes, source, target, height=None, width=None):
    """Convert between ``keras.utils.bounding_boxes`` formats."""
    return keras.utils.bounding_boxes.convert_format(boxes, source=source, target=target,
                                                     height=height, width=width)


def non_max_suppression(boxes, scores, max_detections=100, iou_threshold=0.5,
                        score_threshold=0.05):
    """Per-class NMS of ``(N, K, 4)`` xyxy boxes (or ``(N, K, C, 4)``: one
    box per class, as a two-stage detector refines them) with ``(N, K, C)``
    scores.

    Returns ``boxes (N, D, 4)`` xyxy, ``scores (N, D)``, ``classes (N, D)``
    int32 and ``count (N,)`` int32, with ``D = max_detections``; rows past
    ``count`` are zeros. A box survives for class ``c`` when its score for
    ``c`` is above ``score_threshold`` and no higher-scoring box of class
    ``c`` overlaps it by more than ``iou_threshold``.
    """
    boxes = tf.cast(boxes, tf.float32)
    scores = tf.cast(scores, tf.float32)
    corners = convert(boxes, "xyxy", "yxyx")
    if corners.shape.rank == 3:
        corners = corners[:, :, tf.newaxis, :]
    found = tf.image.combined_non_max_suppression(
        corners, scores, max_output_size_per_class=max_detections,
        max_total_size=max_detections, iou_threshold=iou_threshold,
        score_threshold=score_threshold, clip_boxes=False)
    return (convert(found.nmsed_boxes, "yxyx", "xyxy"), found.nmsed_scores,
            tf.cast(found.nmsed_classes, tf.int32), tf.cast(found.valid_detections, tf.int32))


def scale_boxes(boxes, scale_x, scale_y):
    """Multiply x coordinates by ``scale_x`` and y by ``scale_y`` (per image:
    ``scale_*`` broadcast against ``(N, 1)``)."""
    factors = tf.stack([scale_x, scale_y, scale_x, scale_y], axis=-1)
    return boxes * tf.cast(factors, boxes.dtype)
