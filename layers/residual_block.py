"""The basic residual block of ResNet-18 and ResNet-34."""

import keras

from dlsuite.layers._conv_batch_norm_block import ConvBatchNormBlock


@keras.saving.register_keras_serializable(package="dlsuite")
class ResidualBlock(ConvBatchNormBlock):
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
        super().__init__(
            filters,
            strides=strides,
            use_bias=use_bias,
            momentum=momentum,
            epsilon=epsilon,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            **kwargs,
        )
        self.first_convolution = self._convolution(filters, 3, strides, "first_convolution")
        self.first_batch_norm = self._batch_norm("first_batch_norm")
        self.second_convolution = self._convolution(filters, 3, 1, "second_convolution")
        self.second_batch_norm = self._batch_norm("second_batch_norm")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.first_convolution.build(input_shape)
        shape = self.first_convolution.compute_output_shape(input_shape)
        self.first_batch_norm.build(shape)
        self.second_convolution.build(shape)
        self.second_batch_norm.build(shape)
        self._build_shortcut(input_shape, self.filters, shape)

    def call(self, inputs, training=None):
        x = self.first_convolution(inputs)
        x = self.first_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.second_convolution(x)
        x = self.second_batch_norm(x, training=training)
        return self._merge(x, inputs, training)

    def compute_output_shape(self, input_shape):
        return self.first_convolution.compute_output_shape(input_shape)
