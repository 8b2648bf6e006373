"""The region proposal network's head (Faster R-CNN)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlsuite")
class RPNHead(keras.layers.Layer):
    """Objectness and box deltas for every anchor of a feature map (Ren et
    al. 2015, "Faster R-CNN", section 3.1).

    A ``3 x 3`` convolution with ``filters`` channels and ReLU slides over
    the shared features; two sibling ``1 x 1`` convolutions read it: one
    objectness logit per anchor (the paper's two-class softmax written as
    one sigmoid logit) and four deltas ``(tx, ty, tw, th)`` per anchor::

        h = relu(conv3x3(F));   o = conv1x1_A(h);   t = conv1x1_4A(h)
        box: x = xa + tx wa,  y = ya + ty ha,  w = wa exp(tw),  h = ha exp(th)

    The rows come out location by location (row-major over the map), the
    ``A`` anchors of a location together: the order of keras-hub's
    ``AnchorGenerator`` for one level, so row ``k`` belongs to anchor ``k``.
    The convolutions start from N(0, 0.01) weights and zero biases, as in
    the paper. Decoding the deltas (``keras.utils.bounding_boxes.
    decode_deltas_to_boxes``) and NMS come after; they are not this layer's
    job. Keras and keras-hub have no RPN, hence this layer.

    Example:

    >>> head = RPNHead(anchors_per_location=3, filters=8)
    >>> out = head(np.zeros((2, 4, 4, 16), "float32"))
    >>> tuple(out.shape)                 # 4 x 4 locations x 3 anchors, logit + 4 deltas
    (2, 48, 5)

    Args:
        anchors_per_location: ``A``, anchors at each feature-map cell.
        filters: Channels of the shared ``3 x 3`` convolution.
        **kwargs: Base layer arguments.

    Call arguments:
        inputs: ``(batch, H, W, C)`` shared features.

    Returns:
        ``(batch, H * W * A, 5)``: the objectness logit, then ``tx, ty, tw,
        th``, in the compute dtype.
    """

    def __init__(self, anchors_per_location, filters=256, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("anchors_per_location", anchors_per_location),
                            ("filters", filters)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be an int >= 1. Received: {name}={value}")
        self.anchors_per_location = anchors_per_location
        self.filters = filters

    def _conv(self, filters, size, name, activation=None):
        return keras.layers.Conv2D(
            filters, size, padding="same", activation=activation,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"RPNHead expects features (batch, height, width, channels). "
                             f"Received: input_shape={tuple(input_shape)}")
        anchors = self.anchors_per_location
        self.shared = self._conv(self.filters, 3, "shared", "relu")
        self.objectness = self._conv(anchors, 1, "objectness")
        self.deltas = self._conv(4 * anchors, 1, "deltas")
        self.shared.build(input_shape)
        hidden = tuple(input_shape[:3]) + (self.filters,)
        self.objectness.build(hidden)
        self.deltas.build(hidden)

    def call(self, inputs):
        hidden = self.shared(inputs)
        batch = ops.shape(inputs)[0]
        logits = ops.reshape(self.objectness(hidden), (batch, -1, 1))
        deltas = ops.reshape(self.deltas(hidden), (batch, -1, 4))
        return ops.concatenate([logits, deltas], axis=-1)

    def compute_output_shape(self, input_shape):
        rows, cols = input_shape[1], input_shape[2]
        count = None if rows is None or cols is None else rows * cols * self.anchors_per_location
        return (input_shape[0], count, 5)

    def get_config(self):
        config = super().get_config()
        config.update({"anchors_per_location": self.anchors_per_location,
                       "filters": self.filters})
        return config
