"""The shared machinery of ResNet's blocks (private; not a public layer).

``ResidualBlock`` and ``BottleneckBlock`` differ only in their main path.
Both validate the same arguments, make their convolutions and batch norms
the same way, add a 1x1 projection shortcut (convolution + batch norm) when
the stride or the channel count changes, and end with ``relu(main +
shortcut)``. That lives here once.
"""

import keras

from dlsuite.layers.fused_batch_normalization import FusedBatchNormalization
from dlsuite.layers.small_map_conv2d import SmallMapConv2D


class ConvBatchNormBlock(keras.layers.Layer):
    """Base of the residual blocks: arguments, layer factories, shortcut."""

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
        for name, value in (("filters", filters), ("strides", strides)):
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
        self.use_bias = bool(use_bias)
        self.momentum = momentum
        self.epsilon = epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.shortcut_convolution = None
        self.shortcut_batch_norm = None

    def _convolution(self, filters, kernel_size, strides, name):
        # keras.layers.Conv2D, computed as matmuls on tiny maps (ResNet's
        # last stage on small images), where they are faster.
        return SmallMapConv2D(
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
        return FusedBatchNormalization(
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=self.dtype_policy,
            name=name,
        )

    def _check_rank(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )

    def _build_shortcut(self, input_shape, output_filters, output_shape):
        """Create the projection shortcut if the stride or channels change."""
        if self.strides != 1 or input_shape[-1] != output_filters:
            self.shortcut_convolution = self._convolution(
                output_filters, 1, self.strides, "shortcut_convolution"
            )
            self.shortcut_batch_norm = self._batch_norm("shortcut_batch_norm")
            self.shortcut_convolution.build(input_shape)
            self.shortcut_batch_norm.build(output_shape)

    def _merge(self, main, inputs, training):
        """``relu(main + shortcut(inputs))``."""
        shortcut = inputs
        if self.shortcut_convolution is not None:
            shortcut = self.shortcut_convolution(inputs)
            shortcut = self.shortcut_batch_norm(shortcut, training=training)
        return keras.activations.relu(keras.ops.add(main, shortcut))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "use_bias": self.use_bias,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            }
        )
        return config
