"""Mirror padding of images, for image-to-image networks."""

import keras


def _pair(padding):
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding, padding)
    if (isinstance(padding, (list, tuple)) and len(padding) == 2
            and all(isinstance(p, int) and not isinstance(p, bool) for p in padding)):
        return tuple(padding)
    return None


@keras.saving.register_keras_serializable(package="dlsuite")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad height and width by reflecting the image at its border.

    For padding ``(p, q)`` the output is ``(batch, H + 2p, W + 2q, C)``; the
    pad mirrors the rows and columns next to the edge, without repeating the
    edge itself (``numpy.pad(mode="reflect")``)::

        [a b c d]  --p=2-->  [c b | a b c d | c b]

    Image transformation networks (Johnson et al. 2016, and the PyTorch
    ``fast_neural_style`` example) pad every convolution this way: zero
    padding shows up in a stylised image as dark frames at the border.
    Keras has ``ZeroPadding2D`` only, hence this layer. It has no weights.
    Each pad must be smaller than the image side it mirrors.

    Example:

    >>> ReflectionPadding2D(2)(np.zeros((1, 8, 8, 3), "float32")).shape
    (1, 12, 12, 3)

    Args:
        padding: int (the same for height and width) or ``(p, q)``:
            rows added above and below, columns added left and right.
            Non-negative. Defaults to ``1``.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        pair = _pair(padding)
        if pair is None or min(pair) < 0:
            raise ValueError("padding must be a non-negative int or a pair of them. "
                             f"Received: padding={padding!r}")
        self.padding = pair

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def call(self, inputs, training=None):
        rows, columns = self.padding
        return keras.ops.pad(inputs, [[0, 0], [rows, rows], [columns, columns], [0, 0]],
                             mode="reflect")

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError("ReflectionPadding2D expects inputs of shape (batch, height, "
                             f"width, channels). Received: input_shape={tuple(input_shape)}")
        batch, height, width, channels = input_shape
        for side, size, pad in (("height", height, self.padding[0]),
                                ("width", width, self.padding[1])):
            if size is not None and pad >= size:
                raise ValueError(f"ReflectionPadding2D needs {side} > its padding. Received: "
                                 f"{side}={size}, padding={self.padding}")
        return (batch,
                None if height is None else height + 2 * self.padding[0],
                None if width is None else width + 2 * self.padding[1],
                channels)

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config
