"""The YOLO loss: objectness, box and class terms over a grid of anchors."""

import keras

from dlsuite.layers import yolo_grid as grid
from dlsuite.layers.yolo_target_encoder import YOLOTargetEncoder


def _binary_crossentropy_with_logits(labels, logits):
    # max(z, 0) - z * y + log(1 + exp(-|z|)): stable for any logit.
    return (keras.ops.relu(logits) - logits * labels
            + keras.ops.log1p(keras.ops.exp(-keras.ops.abs(logits))))


BOX_LOSSES = ("squared", "ciou")


def check_box_loss(box_loss):
    if box_loss not in BOX_LOSSES:
        raise ValueError(f"box_loss must be one of {', '.join(BOX_LOSSES)}. "
                         f"Received: box_loss={box_loss!r}")
    return box_loss


def yolo_loss(y_true, y_pred, anchors, image_size, num_classes, ignore_threshold=0.5,
              box_weight=5.0, object_weight=1.0, background_weight=1.0, class_weight=1.0,
              overlap_classes=True, box_loss="squared"):
    """Per-image YOLO loss (YOLOv2/v3: Redmon and Farhadi 2016, 2018).

    With ``1obj_s`` marking the slots :class:`dlsuite.layers.YOLOTargetEncoder` made
    responsible for a true box, targets ``t`` and raw predictions ``p``::

        box        = sum_s 1obj_s (2 - w h / (W H)) [ (sigmoid(px) - tx)^2
                     + (sigmoid(py) - ty)^2 + (pw - tw)^2 + (ph - th)^2 ]
        object     = sum_s 1obj_s BCE(1, sigmoid(po))
        background = sum_s 1noobj_s BCE(0, sigmoid(po))
        class      = sum_s (1obj_s + 1overlap_s) CE(one_hot(class_s), softmax(p_1..p_C))
        loss = box_weight * box + object_weight * object
               + background_weight * background + class_weight * class

    ``1noobj_s`` is every other slot except those whose decoded box
    (:class:`dlsuite.layers.YOLOHead`) overlaps some true box with IoU above
    ``ignore_threshold``: a good box from a slot that is not the
    responsible one is not punished as background (YOLOv3, section 2.1).
    Those slots (``1overlap_s``) do learn the class of the true box they
    overlap most: NMS may keep their box rather than the responsible
    slot's, so their class must be right too (several positives per object,
    as in YOLOX and YOLOv8's assigners). Measured without it (12 epochs on
    digit scenes): half of the confident boxes (score >= 0.4, IoU >= 0.5
    with a true box) came from such slots, and 74% of those had the right
    class against 90% of the responsible slots' boxes.
    The ``(2 - w h / (W H))`` factor weighs small boxes up, as YOLOv3's
    code does. With ``box_loss="ciou"`` the bracket is ``1 - CIoU(b_s,
    t_s)`` instead, between the slot's decoded box and its true box (Zheng
    et al. 2020, as YOLOv4-v8 train boxes; ``keras.utils.bounding_boxes.
    compute_ciou``): IoU minus the centres' squared distance over the
    enclosing box's squared diagonal, minus an aspect-ratio term. A centre
    error then costs in proportion to the box's size, where the squared
    offsets cost the same in cell units for a thin ``1`` as for a wide
    ``0``. Every sum is over the slots of one image, so each image's
    loss does not depend on the grid's size in a batch; Keras averages
    over the batch. IoU comes from ``keras.utils.bounding_boxes.compute_iou``.
    Computed in float32.

    Example:

    >>> anchors = [(16, 16)]
    >>> y_true = np.array([[[0, 0, 16, 16, 0]]], "float32")   # one box, cell (0, 0)
    >>> y_pred = np.zeros((1, 2, 2, 1 * (5 + 2)), "float32")  # every logit 0
    >>> float(yolo_loss(y_true, y_pred, anchors, 32, 2)[0])   # doctest: +ELLIPSIS
    3.4657...

    Args:
        y_true: ``(batch, max_boxes, 5)`` rows ``x1, y1, x2, y2, class`` in
            input pixels; class ``-1`` marks padding.
        y_pred: ``(batch, rows, cols, B * (5 + C))`` raw predictions.
        anchors, image_size, num_classes: as for :class:`dlsuite.layers.YOLOHead`.
        ignore_threshold: IoU above which a background slot's box is not
            punished.
        box_weight, object_weight, background_weight, class_weight: the
            weights of the four terms.
        overlap_classes: Whether the overlapping slots learn classes
            (``1overlap_s`` in the class term); False trains classes at the
            responsible slots only, as YOLOv2/v3 did.
        box_loss: ``"squared"`` (the offsets and log-sizes, YOLOv2/v3) or
            ``"ciou"`` (``1 - CIoU`` of the decoded boxes).

    Returns:
        Float32 ``(batch,)``: the loss of each image.
    """
    anchors = grid.check_anchors(anchors)
    image_size = grid.check_pair(image_size, "image_size")
    box_loss = check_box_loss(box_loss)
    y_true = keras.ops.cast(keras.ops.convert_to_tensor(y_true), "float32")
    y_pred = keras.ops.convert_to_tensor(y_pred)
    grid_size = (int(y_pred.shape[1]), int(y_pred.shape[2]))
    encoder = YOLOTargetEncoder(anchors, image_size, grid_size, num_classes, dtype="float32")
    targets = encoder(y_true)
    slots = grid_size[0] * grid_size[1] * len(anchors)
    raw = keras.ops.reshape(keras.ops.cast(y_pred, "float32"), (-1, slots, 5 + num_classes))

    responsible = targets[..., 4]
    offsets = keras.ops.sigmoid(raw[..., 0:2])
    predicted = grid.boxes_from_offsets(offsets, raw[..., 2:4], image_size, grid_size, anchors)
    true_boxes = y_true[..., :4]
    present = y_true[..., 4] >= 0
    # Padding rows become far-away unit boxes, which overlap nothing.
    true_boxes = keras.ops.where(present[..., None], true_boxes,
                                 keras.ops.convert_to_tensor([-10.0, -10.0, -9.0, -9.0]))
    if y_true.shape[1]:
        overlaps = keras.ops.stop_gradient(
            keras.utils.bounding_boxes.compute_iou(predicted, true_boxes, "xyxy"))
        best = keras.ops.max(overlaps, axis=-1)
        # The class of the true box each slot's prediction overlaps most.
        nearest = keras.ops.one_hot(keras.ops.argmax(overlaps, axis=-1), y_true.shape[1])
        true_classes = keras.ops.one_hot(
            keras.ops.cast(keras.ops.maximum(y_true[..., 4], 0), "int32"), num_classes)
        nearest_class = keras.ops.einsum("bsm,bmc->bsc", nearest, true_classes)
    else:
        best = keras.ops.zeros_like(responsible)
        nearest_class = keras.ops.zeros_like(targets[..., 5:])
    overlapping = (1.0 - responsible) * keras.ops.cast(best > ignore_threshold, "float32")
    background = (1.0 - responsible) - overlapping
    if not overlap_classes:
        nearest_class = keras.ops.zeros_like(nearest_class)

    # Size weight 2 - w h / (W H) of the responsible box, from its encoding.
    _, _, anchor_w, anchor_h = grid.slot_geometry(image_size, grid_size, anchors)
    true_area = anchor_w * keras.ops.exp(targets[..., 2]) * anchor_h * keras.ops.exp(
        targets[..., 3])
    size_weight = 2.0 - true_area / float(image_size[0] * image_size[1])
    if box_loss == "ciou":
        # Each slot's true box, decoded from its targets (exact where responsible).
        assigned = grid.boxes_from_offsets(targets[..., 0:2], targets[..., 2:4], image_size,
                                           grid_size, anchors)
        box_error = 1.0 - keras.utils.bounding_boxes.compute_ciou(predicted, assigned, "xyxy")
    else:
        box_error = (keras.ops.sum(keras.ops.square(offsets - targets[..., 0:2]), axis=-1)
                     + keras.ops.sum(keras.ops.square(raw[..., 2:4] - targets[..., 2:4]), axis=-1))
    box = keras.ops.sum(responsible * size_weight * box_error, axis=-1)
    objectness = _binary_crossentropy_with_logits(responsible, raw[..., 4])
    found = keras.ops.sum(responsible * objectness, axis=-1)
    empty = keras.ops.sum(background * objectness, axis=-1)
    # The class term also trains the overlapping slots, on the class of the
    # box they overlap: NMS may keep their box, so their class must be right.
    class_targets = targets[..., 5:] + overlapping[..., None] * nearest_class
    class_terms = -keras.ops.sum(
        class_targets * keras.ops.log_softmax(raw[..., 5:], axis=-1), axis=-1)
    classes = keras.ops.sum(class_terms, axis=-1)
    return (box_weight * box + object_weight * found + background_weight * empty
            + class_weight * classes)


@keras.saving.register_keras_serializable(package="dlsuite")
class YOLOLoss(keras.losses.Loss):
    """The YOLO loss of :func:`yolo_loss` as a Keras loss for ``compile``.

    ``y_true`` is ``(batch, max_boxes, 5)`` boxes and classes (class ``-1``
    pads), ``y_pred`` the raw ``(batch, rows, cols, B * (5 + C))`` map::

        loss = box_weight * box + object_weight * object
               + background_weight * background + class_weight * class

    Keras has no YOLO loss (keras-cv's ``YOLOV8Detector`` is frozen and
    keras-hub ships none), hence this class.

    Example:

    >>> loss = YOLOLoss(anchors=[(16, 16)], image_size=32, num_classes=2)
    >>> y_true = np.array([[[0, 0, 16, 16, 0]]], "float32")
    >>> float(loss(y_true, np.zeros((1, 2, 2, 7), "float32")))  # doctest: +ELLIPSIS
    3.4657...

    Args:
        anchors, image_size, num_classes, ignore_threshold, box_weight,
        object_weight, background_weight, class_weight, overlap_classes,
        box_loss: as for :func:`yolo_loss`.
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    def __init__(self, anchors, image_size, num_classes, ignore_threshold=0.5, box_weight=5.0,
                 object_weight=1.0, background_weight=1.0, class_weight=1.0,
                 overlap_classes=True, box_loss="squared", reduction="sum_over_batch_size",
                 name="yolo_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.anchors = grid.check_anchors(anchors)
        self.image_size = grid.check_pair(image_size, "image_size")
        self.num_classes = grid.check_num_classes(num_classes)
        if not 0.0 <= ignore_threshold <= 1.0:
            raise ValueError(
                f"ignore_threshold must be in [0, 1]. Received: ignore_threshold={ignore_threshold}")
        for key, value in (("box_weight", box_weight), ("object_weight", object_weight),
                           ("background_weight", background_weight),
                           ("class_weight", class_weight)):
            if not value >= 0:
                raise ValueError(f"{key} must be >= 0. Received: {key}={value}")
        self.ignore_threshold = float(ignore_threshold)
        self.box_weight = float(box_weight)
        self.object_weight = float(object_weight)
        self.background_weight = float(background_weight)
        self.class_weight = float(class_weight)
        self.overlap_classes = bool(overlap_classes)
        self.box_loss = check_box_loss(box_loss)

    def call(self, y_true, y_pred):
        return yolo_loss(y_true, y_pred, self.anchors, self.image_size, self.num_classes,
                         self.ignore_threshold, self.box_weight, self.object_weight,
                         self.background_weight, self.class_weight, self.overlap_classes,
                         self.box_loss)

    def get_config(self):
        config = super().get_config()
        config.update({
            "anchors": [list(pair) for pair in self.anchors],
            "image_size": list(self.image_size),
            "num_classes": self.num_classes,
            "ignore_threshold": self.ignore_threshold,
            "box_weight": self.box_weight,
            "object_weight": self.object_weight,
            "background_weight": self.background_weight,
            "class_weight": self.class_weight,
            "overlap_classes": self.overlap_classes,
            "box_loss": self.box_loss,
        })
        return config
