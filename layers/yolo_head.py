"""YOLO's decoding head: the raw prediction grid -> boxes and class scores."""

import keras

from dlsuite.layers import yolo_grid as grid


@keras.saving.register_keras_serializable(package="dlsuite")
class YOLOHead(keras.layers.Layer):
    """Decode a YOLO prediction map into pixel boxes and per-class scores.

    The network's last convolution gives, per cell and anchor, ``5 + C``
    raw numbers ``(px, py, pw, ph, po, p_1..p_C)``. Following YOLOv2
    (Redmon and Farhadi 2016, section 2)::

        bx = (col + sigmoid(px)) * stride_x      bw = anchor_w * exp(pw)
        by = (row + sigmoid(py)) * stride_y      bh = anchor_h * exp(ph)
        score_c = sigmoid(po) * softmax(p)_c     (objectness x class probability)

    The result is one row per slot (``layers/_yolo_grid.py``'s layout):
    the box as ``x1, y1, x2, y2`` in input pixels, then the ``C`` scores.
    Thresholding the scores and per-class non-max suppression
    (``tf.image.combined_non_max_suppression``, keras-hub's
    ``NonMaxSuppression``) come after; they are not this layer's job.
    :class:`dlsuite.layers.YOLOTargetEncoder` is this decoding's inverse on the
    slots it fills (``boxes_from_offsets``). Keras and keras-hub have no
    YOLO decoder with anchors (keras-hub's detectors are RetinaNet and
    D-FINE), hence this layer. It has no weights; the arithmetic is float32
    whatever the compute dtype.

    Example:

    >>> head = YOLOHead(anchors=[(16, 16)], image_size=32, num_classes=2)
    >>> raw = np.zeros((1, 2, 2, 1 * (5 + 2)), "float32")
    >>> decoded = keras.ops.convert_to_numpy(head(raw))
    >>> decoded.shape                    # 2 x 2 cells x 1 anchor, 4 + 2
    (1, 4, 6)
    >>> decoded[0, 0]                    # centre (8, 8), 16 x 16; 0.5 x 0.5
    array([ 0.  ,  0.  , 16.  , 16.  ,  0.25,  0.25], dtype=float32)

    Args:
        anchors: ``B`` anchor sizes ``(width, height)`` in input pixels.
        image_size: The model's input ``(height, width)`` (or one int).
        num_classes: Number of classes ``C``.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``(batch, rows, cols, B * (5 + C))`` raw predictions; the
            grid size is read from this shape.

    Returns:
        ``(batch, rows * cols * B, 4 + C)``: boxes ``x1, y1, x2, y2`` then
        the class scores of each slot.
    """

    def __init__(self, anchors, image_size, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.anchors = grid.check_anchors(anchors)
        self.image_size = grid.check_pair(image_size, "image_size")
        self.num_classes = grid.check_num_classes(num_classes)

    @property
    def channels(self):
        return len(self.anchors) * (5 + self.num_classes)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != self.channels:
            raise ValueError(
                f"YOLOHead expects (batch, rows, cols, {self.channels}) for "
                f"{len(self.anchors)} anchors and {self.num_classes} classes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        if input_shape[1] is None or input_shape[2] is None:
            raise ValueError(
                f"YOLOHead needs a fixed grid size. Received: input_shape={tuple(input_shape)}"
            )

    def boxes_from_offsets(self, offsets, log_sizes, grid_size):
        """Centre offsets in ``[0, 1)`` and log sizes per slot -> xyxy boxes."""
        return grid.boxes_from_offsets(offsets, log_sizes, self.image_size, grid_size,
                                       self.anchors)

    def slots(self, inputs):
        """``(batch, rows * cols * B, 5 + C)`` raw values, float32, and the grid size."""
        grid_size = (inputs.shape[1], inputs.shape[2])
        raw = keras.ops.reshape(keras.ops.cast(inputs, "float32"),
                                (-1, grid_size[0] * grid_size[1] * len(self.anchors),
                                 5 + self.num_classes))
        return raw, grid_size

    def call(self, inputs):
        raw, grid_size = self.slots(inputs)
        boxes = self.boxes_from_offsets(keras.ops.sigmoid(raw[..., 0:2]), raw[..., 2:4],
                                        grid_size)
        scores = keras.ops.sigmoid(raw[..., 4:5]) * keras.ops.softmax(raw[..., 5:], axis=-1)
        return keras.ops.cast(keras.ops.concatenate([boxes, scores], axis=-1),
                              self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] * input_shape[2] * len(self.anchors),
                4 + self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update({
            "anchors": [list(pair) for pair in self.anchors],
            "image_size": list(self.image_size),
            "num_classes": self.num_classes,
        })
        return config
