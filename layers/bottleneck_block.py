"""The bottleneck residual block of ResNet-50, -101 and -152."""

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class BottleneckBlock(keras.layers.Layer):
    """1x1 -> 3x3 -> 1x1 convolutions with batch norm and a shortcut.

    He et al., "Deep Residual Learning for Image Recognition" (2015), the
    "bottleneck" block of their figure 5 (right). With ``F = filters`` and
    ``E = expansion`` (4 in the paper)::

        x1       = relu(BN(conv1x1_s(x, F)))          # stride s here, as the
        x2       = relu(BN(conv3x3(x1, F)))           # paper and keras.applications
        main     = BN(conv1x1(x2, E * F))
        shortcut = x                      if s == 1 and C_in == E * F
                 = BN(conv1x1_s(x, E * F))  otherwise (projection, option B)
        y        = relu(main + shortcut)

    The output has ``expansion * filters`` channels and spatial size
    ``ceil(H / strides)``. The projection shortcut is created in ``build``
    only when the input's channels or the stride require it.

    Example:

    >>> block = BottleneckBlock(filters=8, strides=2)
    >>> block(np.zeros((2, 16, 16, 16), "float32")).shape
    (2, 8, 8, 32)

    Args:
        filters: Positive int, the channels of the two inner convolutions.
        strides: Positive int, the stride of the first 1x1 convolution and of
            the projection shortcut. Defaults to ``1``.
        expansion: Positive int, the output has ``expansion * filters``
            channels. Defaults to ``4``.
        use_bias: Whether the convolutions have a bias (redundant before batch
            norm, but ``keras.applications`` ResNets keep one). Defaults to
            ``False``.
        momentum: Momentum of the batch norms' moving statistics.
            Defaults to ``0.99``.
        epsilon: Small float added to the batch norms' variance.
            Defaults to ``1.001e-5`` (as ``keras.applications``).
        kernel_initializer: Initializer of the convolution kernels.
            Defaults to ``"he_normal"``.
        kernel_regularizer: Optional regularizer of the convolution kernels.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters,
        strides=1,
        expansion=4,
        use_bias=False,
        momentum=0.99,
        epsilon=1.001e-5,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("filters", filters), ("strides", strides), ("expansion", expansion)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value}"
                )
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={momentum}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.filters = filters
        self.strides = strides
        self.expansion = expansion
        self.use_bias = bool(use_bias)
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        self.output_filters = expansion * filters
        self.reduce_convolution = self._convolution(
            filters, 1, strides, "reduce_convolution"
        )
        self.reduce_batch_norm = self._batch_norm("reduce_batch_norm")
        self.spatial_convolution = self._convolution(filters, 3, 1, "spatial_convolution")
        self.spatial_batch_norm = self._batch_norm("spatial_batch_norm")
        self.expand_convolution = self._convolution(
            self.output_filters, 1, 1, "expand_convolution"
        )
        self.expand_batch_norm = self._batch_norm("expand_batch_norm")
        self.shortcut_convolution = None
        self.shortcut_batch_norm = None

    def _convolution(self, filters, kernel_size, strides, name):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            # 1x1 convolutions with stride s and "valid" padding give
            # ceil(H / s), the same size as "same" padding.
            padding="same" if kernel_size > 1 else "valid",
            use_bias=self.use_bias,
            # A fresh initializer per convolution, so a seeded one does not
            # give every kernel of the same shape the same values.
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name=name,
        )

    def _batch_norm(self, name):
        return keras.layers.BatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "BottleneckBlock expects inputs of shape (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )
        self.reduce_convolution.build(input_shape)
        shape = self.reduce_convolution.compute_output_shape(input_shape)
        self.reduce_batch_norm.build(shape)
        self.spatial_convolution.build(shape)
        self.spatial_batch_norm.build(shape)
        self.expand_convolution.build(shape)
        output_shape = self.expand_convolution.compute_output_shape(shape)
        self.expand_batch_norm.build(output_shape)
        if self.strides != 1 or input_shape[-1] != self.output_filters:
            self.shortcut_convolution = self._convolution(
                self.output_filters, 1, self.strides, "shortcut_convolution"
            )
            self.shortcut_batch_norm = self._batch_norm("shortcut_batch_norm")
            self.shortcut_convolution.build(input_shape)
            self.shortcut_batch_norm.build(output_shape)

    def call(self, inputs, training=None):
        x = self.reduce_convolution(inputs)
        x = self.reduce_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.spatial_convolution(x)
        x = self.spatial_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.expand_convolution(x)
        x = self.expand_batch_norm(x, training=training)
        shortcut = inputs
        if self.shortcut_convolution is not None:
            shortcut = self.shortcut_convolution(inputs)
            shortcut = self.shortcut_batch_norm(shortcut, training=training)
        return keras.activations.relu(keras.ops.add(x, shortcut))

    def compute_output_shape(self, input_shape):
        shape = self.reduce_convolution.compute_output_shape(input_shape)
        return self.expand_convolution.compute_output_shape(shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "expansion": self.expansion,
                "use_bias": self.use_bias,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
            }
        )
        return config
