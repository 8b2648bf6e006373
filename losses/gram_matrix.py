"""The Gram matrix of a feature map: the style representation of Gatys et al."""

import keras

from dlsuite.losses._feature_maps import float32_maps


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
