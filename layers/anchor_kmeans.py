"""YOLO anchor sizes by k-means over the training boxes, with 1 - IoU distance."""

import keras


def _shape_iou(sizes, centroids):
    """IoU of ``(N, 2)`` and ``(K, 2)`` sizes placed at one centre: ``(N, K)``."""
    overlap = (keras.ops.minimum(sizes[:, None, 0], centroids[None, :, 0])
               * keras.ops.minimum(sizes[:, None, 1], centroids[None, :, 1]))
    union = (sizes[:, None, 0] * sizes[:, None, 1]
             + centroids[None, :, 0] * centroids[None, :, 1] - overlap)
    return overlap / keras.ops.maximum(union, 1e-9)


def anchor_kmeans(sizes, num_anchors, iterations=100):
    """Choose ``num_anchors`` anchor sizes by k-means on box sizes.

    YOLOv2's dimension clusters (Redmon and Farhadi 2016, section 2): plain
    k-means with Euclidean distance favours large boxes, so the distance of
    a box to a centroid is one minus their IoU with both placed at one
    centre::

        d(box, centroid) = 1 - IoU(box, centroid)

    Lloyd's iterations: assign each box to its nearest centroid, move each
    centroid to the mean size of its boxes (an empty cluster keeps its
    centroid), until no assignment changes or ``iterations`` pass. The start
    is deterministic: the boxes sorted by area, one taken at each of the
    quantiles ``(k + 0.5) / num_anchors``, so the same boxes always give the
    same anchors. Neither Keras nor keras-hub chooses anchors from data
    (keras-hub's ``AnchorGenerator`` lays out fixed scales and ratios),
    hence this function.

    Example:

    >>> sizes = np.array([[10, 10], [12, 11], [40, 38], [44, 42]], "float32")
    >>> keras.ops.convert_to_numpy(anchor_kmeans(sizes, 2))
    array([[11. , 10.5],
           [42. , 40. ]], dtype=float32)

    Args:
        sizes: ``(N, 2)`` box widths and heights (positive), ``N >= 1``.
        num_anchors: Number of anchors ``K >= 1``; at most ``N``.
        iterations: Upper bound on Lloyd's iterations.

    Returns:
        Float32 ``(K, 2)`` anchor ``(width, height)``, sorted by area.
    """
    if not isinstance(num_anchors, int) or isinstance(num_anchors, bool) or num_anchors < 1:
        raise ValueError(f"num_anchors must be an int >= 1. Received: num_anchors={num_anchors!r}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an int >= 1. Received: iterations={iterations!r}")
    sizes = keras.ops.cast(keras.ops.convert_to_tensor(sizes), "float32")
    if len(sizes.shape) != 2 or sizes.shape[-1] != 2:
        raise ValueError(f"sizes must be (N, 2) widths and heights. Received: shape={sizes.shape}")
    count = int(sizes.shape[0])
    if count < num_anchors:
        raise ValueError(
            f"anchor_kmeans needs at least num_anchors boxes. Received: {count} boxes, "
            f"num_anchors={num_anchors}"
        )
    if not bool(keras.ops.all(sizes > 0)):
        raise ValueError("sizes must be positive widths and heights; found a box of zero size")
    by_area = keras.ops.take(sizes, keras.ops.argsort(sizes[:, 0] * sizes[:, 1]), axis=0)
    starts = [int((k + 0.5) * count / num_anchors) for k in range(num_anchors)]
    centroids = keras.ops.take(by_area, keras.ops.convert_to_tensor(starts, "int32"), axis=0)
    assignment = None
    for _ in range(iterations):
        nearest = keras.ops.argmax(_shape_iou(sizes, centroids), axis=1)
        if assignment is not None and bool(keras.ops.all(nearest == assignment)):
            break
        assignment = nearest
        members = keras.ops.one_hot(nearest, num_anchors)  # (N, K)
        counts = keras.ops.sum(members, axis=0)
        means = keras.ops.matmul(keras.ops.transpose(members), sizes) / keras.ops.maximum(
            counts[:, None], 1.0)
        centroids = keras.ops.where(counts[:, None] > 0, means, centroids)
    order = keras.ops.argsort(centroids[:, 0] * centroids[:, 1])
    return keras.ops.take(centroids, order, axis=0)


def mean_best_iou(sizes, anchors):
    """Average over boxes of the best shape IoU with any anchor (how well
    ``anchors`` fit ``sizes``; YOLOv2's "Avg IOU")."""
    sizes = keras.ops.cast(keras.ops.convert_to_tensor(sizes), "float32")
    anchors = keras.ops.cast(keras.ops.convert_to_tensor(anchors), "float32")
    return keras.ops.mean(keras.ops.max(_shape_iou(sizes, anchors), axis=1))
