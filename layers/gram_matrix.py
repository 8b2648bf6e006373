"""A layer computing the Gram matrix of a feature map."""

import keras

from dlsuite.losses.gram_matrix import gram_matrix


@keras.saving.register_keras_serializable(package="dlsuite")
class GramMatrix(keras.layers.Layer):
    """The Gram matrix of a feature map ``(batch, H, W, C)`` as a layer.

    Wraps :func:`dlsuite.losses.gram_matrix` (Gatys et al. 2016, equation 3)::

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
