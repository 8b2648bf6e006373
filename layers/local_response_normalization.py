"""AlexNet's local response normalization across channels."""

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across neighbouring channels.

    Krizhevsky et al., "ImageNet Classification with Deep Convolutional
    Neural Networks" (2012), section 3.3. For channel ``d`` of the last axis,
    with ``r = depth_radius``::

        square_sum[..., d] = sum(x[..., j] ** 2 for j in [d - r, d + r])
        y[..., d]          = x[..., d] / (bias + alpha * square_sum[..., d]) ** beta

    Channels outside ``[0, C)`` count as zeros. This is the definition of
    ``tf.nn.local_response_normalization`` (``alpha`` is not divided by the
    window size), and the two agree within 1e-5. The paper's setting is
    ``n = 5, k = 2, alpha = 1e-4, beta = 0.75``, i.e. ``depth_radius=2,
    bias=2.0, alpha=1e-4, beta=0.75``.

    Keras has no such layer and ``tf.nn`` is TensorFlow-only, so this is
    written with ``keras.ops`` to run on every backend. It is computed in
    float32 whatever the compute dtype (squares overflow float16 past 256)
    and cast back. It has no weights.

    Example:

    >>> layer = LocalResponseNormalization(depth_radius=2, bias=2.0,
    ...                                    alpha=1e-4, beta=0.75)
    >>> layer(np.ones((1, 4, 4, 8), "float32")).shape
    (1, 4, 4, 8)

    Args:
        depth_radius: Non-negative int, half-width of the channel window.
            Defaults to ``5`` (as ``tf.nn``).
        bias: Positive float, the offset ``k``. Defaults to ``1.0``.
        alpha: Non-negative float, scale of the square sum. Defaults to ``1.0``.
        beta: Non-negative float, the exponent. Defaults to ``0.5``.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(depth_radius, int) or isinstance(depth_radius, bool) or depth_radius < 0:
            raise ValueError(
                "`depth_radius` must be a non-negative integer. "
                f"Received: depth_radius={depth_radius}"
            )
        if not bias > 0:
            raise ValueError(f"`bias` must be > 0. Received: bias={bias}")
        if not alpha >= 0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha}")
        if not beta >= 0:
            raise ValueError(f"`beta` must be >= 0. Received: beta={beta}")
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(
                "LocalResponseNormalization needs a known channel count. "
                f"Received: input_shape={input_shape}"
            )

    def call(self, inputs, training=None):
        x = keras.ops.cast(inputs, "float32")
        channels = x.shape[-1]
        squares = keras.ops.square(x)
        radius = self.depth_radius
        padding = [[0, 0]] * (len(x.shape) - 1) + [[radius, radius]]
        padded = keras.ops.pad(squares, padding)
        # Sum of 2r + 1 shifted slices: exact, unlike a difference of
        # cumulative sums, and cheap for the small radii used in practice.
        square_sum = padded[..., 0:channels]
        for offset in range(1, 2 * radius + 1):
            square_sum = square_sum + padded[..., offset : offset + channels]
        scale = keras.ops.power(self.bias + self.alpha * square_sum, self.beta)
        return keras.ops.cast(x / scale, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config
