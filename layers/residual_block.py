"""The basic residual block of ResNet-18 and ResNet-34."""

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class ResidualBlock(keras.layers.Layer):
    """Two 3x3 convolutions with batch norm and a shortcut connection.

    He et al., "Deep Residual Learning for Image Recognition" (2015), the
    "basic block" of their figure 5 (left)::

        main     = BN(conv3x3(relu(BN(conv3x3_s(x)))))      # stride s first
        shortcut = x                          if s == 1 and C_in == filters
                 = BN(conv1x1_s(x))           otherwise (projection, option B)
        y        = relu(main + shortcut)

    Convolutions use ``"same"`` padding, so the output's height and width are
    ``ceil(H / strides)`` and its channels ``filters``. The projection
    shortcut is created in ``build`` only when the input's channels or the
    stride require it.

    Example:

    >>> block = ResidualBlock(filters=32, strides=2)
    >>> block(np.zeros((2, 16, 16, 16), "float32")).shape
    (2, 8, 8, 32)

    Args:
        filters: Positive int, the channels of both convolutions and of the
            output.
        strides: Positive int, the stride of the first convolution and of the
            projection shortcut. Defaults to ``1``.
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
        use_bias=False,
        momentum=0.99,
        epsilon=1.001e-5,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(
                f"`filters` must be a positive integer. Received: filters={filters}"
            )
        if not isinstance(strides, int) or strides <= 0:
            raise ValueError(
                f"`strides` must be a positive integer. Received: strides={strides}"
            )
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={momentum}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.filters = filters
        self.strides = strides
        self.use_bias = bool(use_bias)
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        self.first_convolution = self._convolution(3, strides, "first_convolution")
        self.first_batch_norm = self._batch_norm("first_batch_norm")
        self.second_convolution = self._convolution(3, 1, "second_convolution")
        self.second_batch_norm = self._batch_norm("second_batch_norm")
        self.shortcut_convolution = None
        self.shortcut_batch_norm = None

    def _convolution(self, kernel_size, strides, name):
        return keras.layers.Conv2D(
            self.filters,
            kernel_size,
            strides=strides,
            padding="same",
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
                "ResidualBlock expects inputs of shape (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )
        self.first_convolution.build(input_shape)
        shape = self.first_convolution.compute_output_shape(input_shape)
        self.first_batch_norm.build(shape)
        self.second_convolution.build(shape)
        self.second_batch_norm.build(shape)
        if self.strides != 1 or input_shape[-1] != self.filters:
            self.shortcut_convolution = self._convolution(
                1, self.strides, "shortcut_convolution"
            )
            self.shortcut_batch_norm = self._batch_norm("shortcut_batch_norm")
            self.shortcut_convolution.build(input_shape)
            self.shortcut_batch_norm.build(shape)

    def call(self, inputs, training=None):
        x = self.first_convolution(inputs)
        x = self.first_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.second_convolution(x)
        x = self.second_batch_norm(x, training=training)
        shortcut = inputs
        if self.shortcut_convolution is not None:
            shortcut = self.shortcut_convolution(inputs)
            shortcut = self.shortcut_batch_norm(shortcut, training=training)
        return keras.activations.relu(keras.ops.add(x, shortcut))

    def compute_output_shape(self, input_shape):
        return self.first_convolution.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
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
