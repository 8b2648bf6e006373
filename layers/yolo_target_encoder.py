"""YOLO's training targets: true boxes -> one target per grid slot."""

import keras

from dlsuite.layers import yolo_grid as grid


@keras.saving.register_keras_serializable(package="dlsuite")
class YOLOTargetEncoder(keras.layers.Layer):
    """Assign each true box to one grid cell and anchor, and encode it there.

    The target of YOLOv2/v3 (Redmon and Farhadi 2016, 2018): the cell that
    holds a box's centre is responsible for it, through the anchor whose
    shape best matches the box's (IoU of ``(w, h)`` pairs placed at one
    centre). That slot's target is::

        tx = cx / stride_x - col          tw = log(w / anchor_w)
        ty = cy / stride_y - row          th = log(h / anchor_h)
        objectness = 1,  classes = one_hot(class)

    and every other slot's target is zeros (background). The slot layout and
    box parameterisation are those of ``layers/_yolo_grid.py`` and of
    :class:`dlsuite.layers.YOLOHead`, which inverts this encoding.

    Two boxes may want the same slot (same cell, same best anchor). The
    assignment is greedy over ``B`` rounds: in round ``k`` each box not yet
    placed proposes its ``k``-th best anchor in its cell; it takes that slot
    when no box holds it and no earlier box (in input order) proposes it in
    the same round. A box still unplaced after ``B`` rounds (more boxes in
    one cell than anchors) is dropped, as in YOLO. keras-hub's
    ``BoxMatcher`` matches anchors to boxes by IoU thresholds (RetinaNet's
    rule), which is not YOLO's one-responsible-slot rule; hence this layer.

    Example:

    >>> encoder = YOLOTargetEncoder(anchors=[(16, 16), (32, 32)],
    ...                             image_size=64, grid_size=2, num_classes=3)
    >>> boxes = np.array([[[8, 8, 24, 24, 2], [-1, -1, -1, -1, -1]]], "float32")
    >>> targets = keras.ops.convert_to_numpy(encoder(boxes))
    >>> targets.shape                       # 2 x 2 cells x 2 anchors, 5 + 3
    (1, 8, 8)
    >>> targets[0, 0]                       # cell (0, 0), anchor 16 x 16
    array([0.5, 0.5, 0. , 0. , 1. , 0. , 0. , 1. ], dtype=float32)

    Args:
        anchors: ``B`` anchor sizes ``(width, height)`` in input pixels.
        image_size: The model's input ``(height, width)`` (or one int).
        grid_size: The grid's ``(rows, cols)`` (or one int).
        num_classes: Number of classes ``C``.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``(batch, max_boxes, 5)`` rows ``x1, y1, x2, y2, class`` in
            input pixels; a row whose class is negative is padding, and a
            box of zero width or height is ignored.

    Returns:
        ``(batch, rows * cols * B, 5 + C)``: ``tx, ty, tw, th, objectness``
        and the one-hot class of each slot.
    """

    def __init__(self, anchors, image_size, grid_size, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.anchors = grid.check_anchors(anchors)
        self.image_size = grid.check_pair(image_size, "image_size")
        self.grid_size = grid.check_pair(grid_size, "grid_size")
        self.num_classes = grid.check_num_classes(num_classes)
        self.supports_masking = False

    @property
    def num_slots(self):
        return self.grid_size[0] * self.grid_size[1] * len(self.anchors)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != 5:
            raise ValueError(
                "YOLOTargetEncoder expects boxes (batch, max_boxes, 5) as x1, y1, x2, y2, "
                f"class. Received: input_shape={tuple(input_shape)}"
            )

    def assign(self, boxes):
        """``(slot, placed)`` of each box: its slot index (int32, ``(batch,
        max_boxes)``) and whether it was placed (bool)."""
        rows, cols = self.grid_size
        count = len(self.anchors)
        stride_y, stride_x = grid.strides(self.image_size, self.grid_size)
        x1, y1, x2, y2, label = (boxes[..., i] for i in range(5))
        width, height = x2 - x1, y2 - y1
        valid = (label >= 0) & (width > 0) & (height > 0)
        col = keras.ops.clip(keras.ops.floor((x1 + x2) / 2 / stride_x), 0, cols - 1)
        row = keras.ops.clip(keras.ops.floor((y1 + y2) / 2 / stride_y), 0, rows - 1)
        cell = keras.ops.cast(row * cols + col, "int32")
        # Shape IoU of each box with each anchor, both centred at one point.
        anchors = keras.ops.convert_to_tensor(self.anchors, dtype="float32")
        overlap = (keras.ops.minimum(width[..., None], anchors[:, 0])
                   * keras.ops.minimum(height[..., None], anchors[:, 1]))
        union = width[..., None] * height[..., None] + anchors[:, 0] * anchors[:, 1] - overlap
        shape_iou = overlap / keras.ops.maximum(union, 1e-9)
        preference = keras.ops.cast(keras.ops.argsort(-shape_iou, axis=-1), "int32")

        slot = keras.ops.zeros_like(cell)
        placed = keras.ops.zeros_like(valid)
        max_boxes = boxes.shape[1]
        earlier = keras.ops.tril(keras.ops.ones((max_boxes, max_boxes), "bool"), k=-1)
        for rank in range(count):
            proposal = cell * count + preference[..., rank]
            candidate = valid & keras.ops.logical_not(placed)
            same = keras.ops.equal(proposal[:, :, None], proposal[:, None, :])
            # A slot is held when a box placed in an earlier round has it.
            held = keras.ops.any(keras.ops.equal(proposal[:, :, None], slot[:, None, :])
                                 & placed[:, None, :], axis=-1)
            contested = keras.ops.any(same & candidate[:, None, :] & earlier[None], axis=-1)
            wins = candidate & keras.ops.logical_not(held) & keras.ops.logical_not(contested)
            slot = keras.ops.where(wins, proposal, slot)
            placed = placed | wins
        return slot, placed

    def call(self, inputs):
        boxes = keras.ops.cast(inputs, "float32")
        slot, placed = self.assign(boxes)
        count = len(self.anchors)
        rows, cols = self.grid_size
        stride_y, stride_x = grid.strides(self.image_size, self.grid_size)
        x1, y1, x2, y2, label = (boxes[..., i] for i in range(5))
        anchors = keras.ops.convert_to_tensor(self.anchors, dtype="float32")
        anchor = keras.ops.take(anchors, slot % count, axis=0)
        cell = slot // count
        col = keras.ops.cast(cell % cols, "float32")
        row = keras.ops.cast(cell // cols, "float32")
        safe_w = keras.ops.where(placed, x2 - x1, 1.0)
        safe_h = keras.ops.where(placed, y2 - y1, 1.0)
        encoded = keras.ops.stack([
            (x1 + x2) / 2 / stride_x - col,
            (y1 + y2) / 2 / stride_y - row,
            keras.ops.log(safe_w / anchor[..., 0]),
            keras.ops.log(safe_h / anchor[..., 1]),
            keras.ops.ones_like(x1),
        ], axis=-1)
        classes = keras.ops.one_hot(keras.ops.cast(keras.ops.maximum(label, 0), "int32"),
                                    self.num_classes)
        per_box = keras.ops.concatenate([encoded, classes], axis=-1)
        scatter = (keras.ops.one_hot(slot, rows * cols * count)
                   * keras.ops.cast(placed, "float32")[..., None])
        targets = keras.ops.einsum("bms,bmd->bsd", scatter, per_box)
        return keras.ops.cast(targets, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_slots, 5 + self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({
            "anchors": [list(pair) for pair in self.anchors],
            "image_size": list(self.image_size),
            "grid_size": list(self.grid_size),
            "num_classes": self.num_classes,
        })
        return config
