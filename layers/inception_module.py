"""GoogLeNet's inception module with dimension reductions."""

import keras

_WIDTHS = (
    "filters_1x1",
    "filters_3x3_reduce",
    "filters_3x3",
    "filters_5x5_reduce",
    "filters_5x5",
    "filters_pool_projection",
)


@keras.saving.register_keras_serializable(package="dlsuite")
class InceptionModule(keras.layers.Layer):
    """Four parallel branches concatenated on the channel axis.

    Szegedy et al., "Going Deeper with Convolutions" (2014), figure 2(b): the
    1x1 convolutions before the 3x3 and 5x5 ones ("reduce") and after the
    pooling ("pool projection") are bottlenecks that keep the cost down::

        branch_1 = relu(conv1x1(x, filters_1x1))
        branch_2 = relu(conv3x3(relu(conv1x1(x, filters_3x3_reduce)), filters_3x3))
        branch_3 = relu(conv5x5(relu(conv1x1(x, filters_5x5_reduce)), filters_5x5))
        branch_4 = relu(conv1x1(maxpool3x3_stride1(x), filters_pool_projection))
        y        = concatenate([branch_1, branch_2, branch_3, branch_4], axis=-1)

    All convolutions and the pooling use ``"same"`` padding and stride 1, so
    the output keeps the input's height and width and has
    ``filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_projection``
    channels. The widths of GoogLeNet's nine modules are its table 1, e.g.
    inception (3a) is ``InceptionModule(64, 96, 128, 16, 32, 32)``.

    Example:

    >>> module = InceptionModule(8, 4, 8, 2, 4, 4)
    >>> module(np.zeros((2, 7, 7, 16), "float32")).shape
    (2, 7, 7, 24)

    Args:
        filters_1x1: Positive int, width of the 1x1 branch.
        filters_3x3_reduce: Positive int, width of the 1x1 before the 3x3.
        filters_3x3: Positive int, width of the 3x3 branch.
        filters_5x5_reduce: Positive int, width of the 1x1 before the 5x5.
        filters_5x5: Positive int, width of the 5x5 branch.
        filters_pool_projection: Positive int, width of the 1x1 after pooling.
        use_bias: Whether the convolutions have a bias. Defaults to ``True``
            (GoogLeNet has no batch norm).
        kernel_initializer: Initializer of the convolution kernels.
            Defaults to ``"glorot_uniform"``.
        kernel_regularizer: Optional regularizer of the convolution kernels.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(
        self,
        filters_1x1,
        filters_3x3_reduce,
        filters_3x3,
        filters_5x5_reduce,
        filters_5x5,
        filters_pool_projection,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        widths = (
            filters_1x1,
            filters_3x3_reduce,
            filters_3x3,
            filters_5x5_reduce,
            filters_5x5,
            filters_pool_projection,
        )
        for name, value in zip(_WIDTHS, widths):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(
                    f"`{name}` must be a positive integer. Received: {name}={value}"
                )
        self.filters_1x1 = filters_1x1
        self.filters_3x3_reduce = filters_3x3_reduce
        self.filters_3x3 = filters_3x3
        self.filters_5x5_reduce = filters_5x5_reduce
        self.filters_5x5 = filters_5x5
        self.filters_pool_projection = filters_pool_projection
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

        self.branch_1x1 = self._convolution(filters_1x1, 1, "branch_1x1")
        self.branch_3x3_reduce = self._convolution(
            filters_3x3_reduce, 1, "branch_3x3_reduce"
        )
        self.branch_3x3 = self._convolution(filters_3x3, 3, "branch_3x3")
        self.branch_5x5_reduce = self._convolution(
            filters_5x5_reduce, 1, "branch_5x5_reduce"
        )
        self.branch_5x5 = self._convolution(filters_5x5, 5, "branch_5x5")
        self.branch_pool = keras.layers.MaxPooling2D(
            3, strides=1, padding="same", dtype=self.dtype_policy, name="branch_pool"
        )
        self.branch_pool_projection = self._convolution(
            filters_pool_projection, 1, "branch_pool_projection"
        )

    def _convolution(self, filters, kernel_size, name):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            activation="relu",
            use_bias=self.use_bias,
            # A fresh initializer per convolution, so a seeded one does not
            # give every kernel of the same shape the same values.
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "InceptionModule expects inputs of shape (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )
        self.branch_1x1.build(input_shape)
        self.branch_3x3_reduce.build(input_shape)
        self.branch_3x3.build(self.branch_3x3_reduce.compute_output_shape(input_shape))
        self.branch_5x5_reduce.build(input_shape)
        self.branch_5x5.build(self.branch_5x5_reduce.compute_output_shape(input_shape))
        self.branch_pool.build(input_shape)
        self.branch_pool_projection.build(input_shape)

    def call(self, inputs, training=None):
        branches = [
            self.branch_1x1(inputs),
            self.branch_3x3(self.branch_3x3_reduce(inputs)),
            self.branch_5x5(self.branch_5x5_reduce(inputs)),
            self.branch_pool_projection(self.branch_pool(inputs)),
        ]
        return keras.ops.concatenate(branches, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = (
            self.filters_1x1
            + self.filters_3x3
            + self.filters_5x5
            + self.filters_pool_projection
        )
        return (*input_shape[:-1], channels)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in _WIDTHS})
        config.update(
            {
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
            }
        )
        return config
