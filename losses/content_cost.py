"""The content cost of neural style transfer."""

import keras


def _same_layer(shape_a, shape_b):
    """Both ``(batch, nH, nW, nC)`` with equal known ``nH, nW, nC``."""
    if len(shape_a) != 4 or len(shape_b) != 4:
        return False
    return all(a is None or b is None or a == b for a, b in zip(shape_a[1:], shape_b[1:]))


def content_cost(a_C, a_G, normalize=True):
    """Per-example content cost between two activations of one layer.

    Gatys et al. (2016), equation 1, with ``a_C`` the content image's and
    ``a_G`` the generated image's activations ``(batch, nH, nW, nC)`` of the
    same layer::

        normalize=False:  J_content = 1/2 * sum (a_C - a_G) ** 2
        normalize=True:   J_content = 1 / (4 * nH * nW * nC) * sum (a_C - a_G) ** 2

    The first is the paper's; the second, the curriculum's, divides by the
    layer's size, so the cost of a deep small layer and a shallow large one,
    or of one image at two sizes, are on one scale. The sum runs over every
    position and channel of one example. Computed in float32.

    Example:

    >>> a_C = np.ones((1, 2, 2, 3), "float32")
    >>> a_G = np.zeros((1, 2, 2, 3), "float32")
    >>> float(content_cost(a_C, a_G, normalize=False)[0])   # 12 / 2
    6.0
    >>> float(content_cost(a_C, a_G)[0])                    # 12 / (4 * 12)
    0.25

    Args:
        a_C: Tensor ``(batch or 1, nH, nW, nC)``: the content image's
            activations (a batch of one is used for every generated image).
        a_G: Tensor ``(batch, nH, nW, nC)``: the generated images'.
        normalize: Use the size-normalised form. Defaults to ``True``.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    a_C = keras.ops.cast(keras.ops.convert_to_tensor(a_C), "float32")
    a_G = keras.ops.cast(keras.ops.convert_to_tensor(a_G), "float32")
    if not _same_layer(a_C.shape, a_G.shape):
        raise ValueError(
            "content_cost expects a_C and a_G of shape (batch, nH, nW, nC) with the same "
            f"nH, nW, nC. Received: a_C.shape={tuple(a_C.shape)}, a_G.shape={tuple(a_G.shape)}"
        )
    total = keras.ops.sum(keras.ops.square(a_C - a_G), axis=(1, 2, 3))
    if not normalize:
        return 0.5 * total
    shape = keras.ops.shape(a_G)
    size = keras.ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return total / (4.0 * size)
