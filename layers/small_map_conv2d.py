"""``SmallMapConv2D``: ``keras.layers.Conv2D`` computed as matmuls on small
feature maps.

The kernel gradient of a convolution is a matrix product: im2col patches of
the input (``N * Ho * Wo`` rows, ``kh * kw * C_in`` columns), transposed,
times the output gradient (``N * Ho * Wo`` rows, ``C_out`` columns). When
the output map is tiny, as in ResNet-50's last stage at 64x64 inputs (2x2
maps, 15M of the 25.6M weights), the product's inner dimension is short and
the weights are many. TensorFlow's oneDNN kernel for that gradient
(``Conv2DBackpropFilter``) is slow there, and no faster in bfloat16 than in
float32, while the plain matmul is fast in both. A 1x1, stride-1
convolution is a matmul outright, and on such maps its forward pass and
input gradient are faster as one too. Measured side by side on a 2-core
AVX512 CPU at batch 32 (``python -m benchmarks small_map_conv``; the
per-shape table is in ``benchmarks/README.md``), on 2x2 output maps the
matmuls take 0.56-0.84x oneDNN's time in float32 and 0.28-0.75x in
bfloat16.

From 4x4 maps on it is a mixed result and from 8x8 on oneDNN wins, so the
matmuls are used only up to ``matmul_gradient_max_positions`` output
positions (``Ho * Wo``, 4 by default). There, a 1x1 stride-1 convolution is
one matmul (forward and both gradients), and any other convolution keeps
TensorFlow's forward and input-gradient ops and takes its kernel gradient as
the im2col matmul. The results and gradients are those of
``keras.layers.Conv2D`` (tested to 1e-5). Other backends, dilated or
grouped convolutions and ``channels_first`` run ``keras.layers.Conv2D``
unchanged, so it is a drop-in replacement.
"""

import keras


def matmul_kernel_gradient(inputs, output_gradient, kernel_shape, strides, padding):
    """The gradient of a 2-D convolution with respect to its kernel, as one
    im2col matmul: the same values as TensorFlow's ``Conv2DBackpropFilter``.

    ``inputs`` (N, H, W, C_in), ``output_gradient`` (N, Ho, Wo, C_out),
    ``kernel_shape`` (kh, kw, C_in, C_out), ``strides`` (sh, sw), ``padding``
    "same" or "valid"; channels-last, no dilation. TensorFlow backend.
    """
    import tensorflow as tf

    kernel_height, kernel_width, in_channels, out_channels = kernel_shape
    if kernel_height == kernel_width == 1:
        # A 1x1 window pads nothing under either padding.
        patches = inputs[:, :: strides[0], :: strides[1], :]
    else:
        patches = tf.image.extract_patches(
            inputs, [1, kernel_height, kernel_width, 1], [1, *strides, 1], [1, 1, 1, 1],
            padding.upper())
    # Patches are laid out (kh, kw, C_in), the kernel's own order.
    gradient = tf.matmul(
        tf.reshape(patches, [-1, kernel_height * kernel_width * in_channels]),
        tf.reshape(output_gradient, [-1, out_channels]), transpose_a=True)
    return tf.reshape(gradient, kernel_shape)


def _conv2d_with_matmul_kernel_gradient(inputs, kernel, strides, padding):
    """``tf.nn.conv2d`` whose kernel gradient is ``matmul_kernel_gradient``."""
    import tensorflow as tf

    window_strides = [1, *strides, 1]
    padding = padding.upper()

    @tf.custom_gradient
    def convolve(x, w):
        def gradient(output_gradient):
            input_gradient = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=tf.shape(x), filter=w, out_backprop=output_gradient,
                strides=window_strides, padding=padding)
            return input_gradient, matmul_kernel_gradient(x, output_gradient, w.shape,
                                                          strides, padding)

        return tf.nn.conv2d(x, w, window_strides, padding), gradient

    return convolve(tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel))


def pointwise_matmul(inputs, kernel):
    """A 1x1, stride-1 convolution as the matmul it is: its forward pass,
    input gradient and kernel gradient are then all one matmul each."""
    import tensorflow as tf

    in_channels, out_channels = kernel.shape[-2:]
    flat = tf.matmul(tf.reshape(inputs, [-1, in_channels]),
                     tf.reshape(kernel, [in_channels, out_channels]))
    return tf.reshape(flat, tf.concat([tf.shape(inputs)[:-1], [out_channels]], 0))


@keras.saving.register_keras_serializable(package="dlsuite")
class SmallMapConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` computed as matmuls on small output maps.

    Args: those of ``keras.layers.Conv2D``, and

        matmul_gradient_max_positions: Non-negative int. When the output
            map has at most this many positions (height times width), the
            kernel gradient is one matmul, and a 1x1 stride-1 convolution
            is one matmul outright; 0 never does either. Defaults to ``4``
            (2x2 maps), where both were measured faster in float32 and
            bfloat16.

    Example:

    ```python
    x = SmallMapConv2D(512, 3, padding="same")(x)   # instead of keras.layers.Conv2D
    ```
    """

    def __init__(self, *args, matmul_gradient_max_positions=4, **kwargs):
        super().__init__(*args, **kwargs)
        if (not isinstance(matmul_gradient_max_positions, int)
                or isinstance(matmul_gradient_max_positions, bool)
                or matmul_gradient_max_positions < 0):
            raise ValueError(
                "`matmul_gradient_max_positions` must be a non-negative integer. "
                f"Received: matmul_gradient_max_positions={matmul_gradient_max_positions}")
        self.matmul_gradient_max_positions = matmul_gradient_max_positions

    def uses_matmul_gradient(self, input_shape):
        """Whether inputs of this (static) shape take the matmul path (the
        matmul kernel gradient, or one matmul for a 1x1 stride-1 kernel)."""
        if (keras.backend.backend() != "tensorflow" or self.data_format != "channels_last"
                or tuple(self.dilation_rate) != (1, 1) or self.groups != 1
                or len(input_shape) != 4):
            return False
        height, width = self.compute_output_shape(input_shape)[1:3]
        if height is None or width is None:
            return False
        return height * width <= self.matmul_gradient_max_positions

    def convolution_op(self, inputs, kernel):
        if not self.uses_matmul_gradient(tuple(inputs.shape)):
            return super().convolution_op(inputs, kernel)
        if tuple(self.kernel_size) == (1, 1) and tuple(self.strides) == (1, 1):
            return pointwise_matmul(inputs, kernel)
        return _conv2d_with_matmul_kernel_gradient(inputs, kernel, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(),
                "matmul_gradient_max_positions": self.matmul_gradient_max_positions}
