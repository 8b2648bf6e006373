"""StyleGAN2's modulated convolution: a per-example style scales the weights."""

import math

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class ModulatedConv2D(keras.layers.Layer):
    """A 2-D convolution whose weights a per-example style modulates, then
    demodulates (StyleGAN2).

    Karras et al., "Analyzing and Improving the Image Quality of StyleGAN"
    (2020), section 2.2. A learned affine map (``A`` in the paper) turns the
    intermediate latent ``w`` into one scale per input channel, ``s = w A +
    b_A`` (the bias starts at 1, so every style starts as the identity).
    The convolution's weights are scaled per example and, with
    ``demodulate=True``, normalised back to unit output variance::

        w'_{ijk}  = s_i * w_{ijk}                      i: input channel,
        w''_{ijk} = w'_{ijk} / sqrt(sum_{i,k} w'_{ijk}^2 + epsilon)   j: output,
        y         = conv(x, w'') + bias                k: kernel tap

    It is computed without a per-example kernel, as the paper's appendix
    B's equivalent form: the input is scaled by ``s`` and the output by the
    demodulation factor, ``y_j = d_j * conv(x * s, w)_j`` with
    ``d_j = 1 / sqrt(sum_i s_i^2 sum_k w_{ijk}^2 + epsilon)``, so the
    convolution is one ordinary, batched convolution (fast on every
    backend; grouped convolutions are not). Weights use the equalised
    learning rate: stored ``N(0, 1)``, scaled at run time by
    ``1 / sqrt(fan_in)``.

    **Why modulation rather than StyleGAN1's AdaIN.** AdaIN (instance
    normalisation followed by a style's scale and bias) normalises each
    feature map of each example by its own statistics, which destroys
    the relative magnitudes of the maps; the generator learns to sneak that
    information past it through a strong local spike, the "droplet"
    artifacts of StyleGAN1 (paper, section 2). Demodulation normalises the
    expected statistics through the weights instead of the actual
    activations: the same style control without the artifacts, and without
    a normalisation pass over the activations (cheaper). With
    ``demodulate=False`` it is the paper's toRGB layer (usually with
    ``kernel_size=1``).

    Keras has no such layer (its StyleGAN example uses AdaIN), hence this
    one. The style and the demodulation factors are computed in float32
    whatever the compute dtype; the convolution in the compute dtype.

    Example:

    >>> conv = ModulatedConv2D(filters=8, kernel_size=3)
    >>> x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype("float32")
    >>> w = np.random.default_rng(1).standard_normal((2, 16)).astype("float32")
    >>> tuple(conv([x, w]).shape)
    (2, 4, 4, 8)

    Args:
        filters: Number of output channels.
        kernel_size: Odd int, the square kernel's side ("same" padding).
        demodulate: Whether to demodulate (``False`` for toRGB layers).
        use_bias: Whether to add a learned bias per output channel.
        epsilon: Small float inside the demodulation's square root.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: A list ``[x, w]``: ``x`` of shape ``(batch, height, width,
            in_channels)``, ``w`` of shape ``(batch, w_dim)``.
    """

    def __init__(self, filters, kernel_size=3, demodulate=True, use_bias=True, epsilon=1e-8,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"`filters` must be a positive int. Received: filters={filters}")
        if (isinstance(kernel_size, bool) or not isinstance(kernel_size, int)
                or kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError("`kernel_size` must be a positive odd int. "
                             f"Received: kernel_size={kernel_size}")
        for name, value in (("demodulate", demodulate), ("use_bias", use_bias)):
            if not isinstance(value, bool):
                raise ValueError(f"`{name}` must be a bool. Received: {name}={value}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.use_bias = use_bias
        self.epsilon = float(epsilon)

    def _check_shapes(self, input_shape):
        if (not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2
                or not all(isinstance(shape, (list, tuple)) for shape in input_shape)):
            raise ValueError("ModulatedConv2D expects a list of two inputs [x, w]. "
                             f"Received: input_shape={input_shape}")
        x_shape, w_shape = (tuple(shape) for shape in input_shape)
        if len(x_shape) != 4 or len(w_shape) != 2 or x_shape[-1] is None or w_shape[-1] is None:
            raise ValueError("ModulatedConv2D expects x of shape (batch, height, width, "
                             "channels) and w of shape (batch, w_dim). Received: "
                             f"x.shape={x_shape}, w.shape={w_shape}")
        return x_shape, w_shape

    def build(self, input_shape):
        x_shape, w_shape = self._check_shapes(input_shape)
        channels, w_dim = x_shape[-1], w_shape[-1]
        self.style_kernel = self.add_weight(name="style_kernel", shape=(w_dim, channels),
                                            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.style_bias = self.add_weight(name="style_bias", shape=(channels,),
                                          initializer="ones")
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size, self.kernel_size, channels, self.filters),
            initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
                     if self.use_bias else None)
        self.style_scale = 1.0 / math.sqrt(w_dim)
        self.kernel_scale = 1.0 / math.sqrt(channels * self.kernel_size**2)

    def call(self, inputs):
        x, w = inputs
        w = keras.ops.cast(w, "float32")
        style = (keras.ops.matmul(w, keras.ops.cast(self.style_kernel, "float32") * self.style_scale)
                 + keras.ops.cast(self.style_bias, "float32"))  # (batch, in)
        kernel = self.kernel * self.kernel_scale
        x = x * keras.ops.cast(style[:, None, None, :], self.compute_dtype)
        y = keras.ops.conv(x, kernel, strides=1, padding="same")
        if self.demodulate:
            # sum_k w_{ijk}^2 per (input, output), then sum_i s_i^2 * that.
            energy = keras.ops.sum(keras.ops.square(keras.ops.cast(kernel, "float32")),
                                   axis=(0, 1))  # (in, out)
            demodulation = keras.ops.rsqrt(
                keras.ops.matmul(keras.ops.square(style), energy) + self.epsilon)  # (batch, out)
            y = y * keras.ops.cast(demodulation[:, None, None, :], self.compute_dtype)
        if self.bias is not None:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        x_shape, _ = self._check_shapes(input_shape)
        return (*x_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "demodulate": self.demodulate,
            "use_bias": self.use_bias,
            "epsilon": self.epsilon,
        })
        return config
