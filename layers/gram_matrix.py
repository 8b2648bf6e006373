"""The Gram matrix of a feature map (Gatys et al.): the function and its layer.

The library's ground floor owns it; ``dlsuite.losses`` (the style costs)
uses it from here."""

import keras

from dlsuite.layers.feature_maps import float32_maps


def gram_matrix(features, normalize=False):
    """Per-example Gram matrix of a feature map ``(batch, H, W, C)``.

    Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional Neural
    Networks" (2016), equation 3. With ``a[i, j, k]`` the activation of
    channel ``k`` at position ``(i, j)``::

        G[k, k'] = sum_i sum_j a[i, j, k] * a[i, j, k']

    i.e. ``A^T A`` with ``A`` the ``(H * W, C)`` matrix of the unrolled map:
    which channels fire together, wherever they fire. With
    ``normalize=True`` it is divided by ``H * W``, the number of positions,
    so Gram matrices of maps of different sizes are comparable (the mean of
    the products instead of their sum).

    Computed in float32 whatever the input dtype (a half-precision sum over
    tens of thousands of positions loses the small entries). Keras has no
    Gram matrix op, hence this function.

    Example:

    >>> features = np.ones((1, 2, 3, 2), "float32")   # 6 positions, 2 channels
    >>> keras.ops.convert_to_numpy(gram_matrix(features))[0]
    array([[6., 6.],
           [6., 6.]], dtype=float32)
    >>> keras.ops.convert_to_numpy(gram_matrix(features, normalize=True))[0, 0, 0]
    np.float32(1.0)

    Args:
        features: Tensor ``(batch, H, W, C)``; ``H`` and ``W`` may be unknown
            until run time.
        normalize: Divide by ``H * W``. Defaults to ``False`` (the
            curriculum's ``G``).

    Returns:
        Float32 tensor ``(batch, C, C)``, symmetric.
    """
    features = float32_maps(features, "gram_matrix", "features")
    shape = keras.ops.shape(features)
    channels = features.shape[-1] if features.shape[-1] is not None else shape[3]
    unrolled = keras.ops.reshape(features, (shape[0], -1, channels))
    gram = keras.ops.matmul(keras.ops.transpose(unrolled, (0, 2, 1)), unrolled)
    if normalize:
        gram = gram / keras.ops.cast(shape[1] * shape[2], "float32")
    return gram


@keras.saving.register_keras_serializable(package="dlsuite")
class GramMatrix(keras.layers.Layer):
    """The Gram matrix of a feature map ``(batch, H, W, C)`` as a layer.

    Wraps :func:`gram_matrix` (Gatys et al. 2016, equation 3)::

        G[k, k'] = sum_{i, j} a[i, j, k] * a[i, j, k']      (/ (H * W) if normalize)

    so a Functional model can output style representations, e.g. a style
    feature network ``image -> [G_l for each style layer]``. The products
    are summed in float32 and the result cast to the compute dtype. It has
    no weights.

    Example:

    >>> GramMatrix(normalize=True)(np.ones((2, 4, 4, 3), "float32")).shape
    (2, 3, 3)

    Args:
        normalize: Divide by the number of positions ``H * W``. Defaults to
            ``False``.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be a bool. Received: normalize={normalize!r}")
        self.normalize = normalize

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def call(self, inputs, training=None):
        return keras.ops.cast(gram_matrix(inputs, normalize=self.normalize), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError("GramMatrix expects inputs of shape (batch, height, width, "
                             f"channels). Received: input_shape={tuple(input_shape)}")
        return (input_shape[0], input_shape[3], input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"normalize": self.normalize})
        return config
