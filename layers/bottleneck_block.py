"""The bottleneck residual block of ResNet-50, -101 and -152."""

import keras

from dlsuite.layers._conv_batch_norm_block import ConvBatchNormBlock


@keras.saving.register_keras_serializable(package="dlsuite")
class BottleneckBlock(ConvBatchNormBlock):
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
        if not isinstance(expansion, int) or isinstance(expansion, bool) or expansion <= 0:
            raise ValueError(
                f"`expansion` must be a positive integer. Received: expansion={expansion}"
            )
        self.expansion = expansion
        self.output_filters = expansion * filters
        self.reduce_convolution = self._convolution(filters, 1, strides, "reduce_convolution")
        self.reduce_batch_norm = self._batch_norm("reduce_batch_norm")
        self.spatial_convolution = self._convolution(filters, 3, 1, "spatial_convolution")
        self.spatial_batch_norm = self._batch_norm("spatial_batch_norm")
        self.expand_convolution = self._convolution(
            self.output_filters, 1, 1, "expand_convolution"
        )
        self.expand_batch_norm = self._batch_norm("expand_batch_norm")

    def build(self, input_shape):
        self._check_rank(input_shape)
        self.reduce_convolution.build(input_shape)
        shape = self.reduce_convolution.compute_output_shape(input_shape)
        self.reduce_batch_norm.build(shape)
        self.spatial_convolution.build(shape)
        self.spatial_batch_norm.build(shape)
        self.expand_convolution.build(shape)
        output_shape = self.expand_convolution.compute_output_shape(shape)
        self.expand_batch_norm.build(output_shape)
        self._build_shortcut(input_shape, self.output_filters, output_shape)

    def call(self, inputs, training=None):
        x = self.reduce_convolution(inputs)
        x = self.reduce_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.spatial_convolution(x)
        x = self.spatial_batch_norm(x, training=training)
        x = keras.activations.relu(x)
        x = self.expand_convolution(x)
        x = self.expand_batch_norm(x, training=training)
        return self._merge(x, inputs, training)

    def compute_output_shape(self, input_shape):
        shape = self.reduce_convolution.compute_output_shape(input_shape)
        return self.expand_convolution.compute_output_shape(shape)

    def get_config(self):
        config = super().get_config()
        config["expansion"] = self.expansion
        return config
