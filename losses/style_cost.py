"""The style cost of neural style transfer: Gram matrices compared layer by layer."""

import keras

from dlsuite.layers.feature_maps import float32_maps
from dlsuite.layers.gram_matrix import gram_matrix


def _normalized_gram(values, what):
    values = keras.ops.cast(keras.ops.convert_to_tensor(values), "float32")
    if len(values.shape) == 4:
        return gram_matrix(values, normalize=True)
    if len(values.shape) == 3:
        return values
    raise ValueError(
        f"style_layer_cost expects {what} as features (batch, nH, nW, nC) or a normalised "
        f"Gram matrix (batch, nC, nC). Received: shape={tuple(values.shape)}"
    )


def style_layer_cost(a_S, a_G, image_size=None):
    """Per-example style cost of one layer, normalised by the layer's own sizes.

    Gatys et al. (2016), equation 4, with ``G_S`` and ``G_G`` the Gram
    matrices (:func:`gram_matrix`) of the style image's and the generated
    image's activations of one layer of size ``nH x nW x nC``::

        J_style_layer = 1 / (4 * nC**2 * (nH * nW)**2) * sum (G_S - G_G) ** 2

    Each layer is normalised by ITS OWN ``nH, nW, nC``, so every layer's
    cost is a mean squared difference of (position-averaged) channel
    correlations, and layer weights mean what they say. It is computed as
    ``1 / (4 * nC**2) * sum (G_S / (nH nW) - G_G / (nH nW)) ** 2``, the same
    number, which stays defined when the style image's map has another size
    than the generated one's (each Gram divided by its own positions).

    The keras-io example normalises every layer by the *input image's* size
    and 3 channels instead; ``image_size=(H, W)`` reproduces that, for
    comparison only::

        J_style_layer(keras-io) = 1 / (4 * 3**2 * (H * W)**2) * sum (G_S - G_G) ** 2

    which weighs a 64-channel layer at full resolution about a thousand
    times more than a 512-channel one at 1/16 of it.

    Example:

    >>> a_S = np.ones((1, 4, 4, 2), "float32")
    >>> a_G = np.zeros((1, 4, 4, 2), "float32")
    >>> float(style_layer_cost(a_S, a_G)[0])   # 4 entries of 16**2 / (4 * 4 * 16**2)
    0.25

    Args:
        a_S: Tensor ``(batch or 1, nH', nW', nC)``: the style image's
            activations, or their precomputed ``gram_matrix(a_S,
            normalize=True)`` ``(batch or 1, nC, nC)`` (a fixed style image's
            Gram matrix need not be recomputed every step).
        a_G: Tensor ``(batch, nH, nW, nC)``: the generated images'
            activations.
        image_size: ``None`` (the layer's own sizes), or the input image's
            ``(H, W)`` for keras-io's normalisation.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    a_G = float32_maps(a_G, "style_layer_cost", "a_G", "(batch, nH, nW, nC)")
    gram_S = _normalized_gram(a_S, "a_S")
    gram_G = gram_matrix(a_G, normalize=True)
    if gram_S.shape[-1] is not None and a_G.shape[-1] is not None and (
            gram_S.shape[-1] != a_G.shape[-1]):
        raise ValueError(
            "a_S and a_G must have the same channels. Received: "
            f"a_S channels={gram_S.shape[-1]}, a_G channels={a_G.shape[-1]}"
        )
    squared = keras.ops.sum(keras.ops.square(gram_S - gram_G), axis=(1, 2))
    shape = keras.ops.shape(a_G)
    channels = keras.ops.cast(shape[3], "float32")
    cost = squared / (4.0 * keras.ops.square(channels))
    if image_size is None:
        return cost
    height, width = image_size
    positions = keras.ops.cast(shape[1] * shape[2], "float32")
    image_positions = keras.ops.cast(height, "float32") * keras.ops.cast(width, "float32")
    # sum (G_S - G_G)**2 = positions**2 * squared, over 4 * 3**2 * (H W)**2.
    return squared * keras.ops.square(positions / image_positions) / 36.0


def style_cost(style_features, generated_features, layer_weights=None, image_size=None):
    """Per-example style cost over several layers: a weighted sum.

    Gatys et al. (2016), equation 5::

        J_style = sum_l lambda_l * J_style_layer(a_S[l], a_G[l])

    with :func:`style_layer_cost` per layer, normalised by each layer's own
    sizes.

    Example:

    >>> a = [np.ones((1, 4, 4, 2), "float32"), np.ones((1, 2, 2, 3), "float32")]
    >>> g = [np.zeros((1, 4, 4, 2), "float32"), np.ones((1, 2, 2, 3), "float32")]
    >>> float(style_cost(a, g, [0.5, 0.5])[0])   # 0.5 * 0.25 + 0.5 * 0
    0.125

    Args:
        style_features: List of the style image's activations (or their
            normalised Gram matrices), one per layer.
        generated_features: List of the generated images' activations, the
            same layers in the same order.
        layer_weights: List of floats ``lambda_l``, one per layer; ``None``
            weighs every layer ``1 / L``.
        image_size: ``None``, or ``(H, W)`` for keras-io's normalisation
            (see :func:`style_layer_cost`).

    Returns:
        Float32 tensor ``(batch,)``.
    """
    style_features, generated_features = list(style_features), list(generated_features)
    if not style_features or len(style_features) != len(generated_features):
        raise ValueError(
            "style_cost needs one style and one generated activation per layer. Received: "
            f"{len(style_features)} style and {len(generated_features)} generated layers"
        )
    if layer_weights is None:
        layer_weights = [1.0 / len(style_features)] * len(style_features)
    layer_weights = [float(weight) for weight in layer_weights]
    if len(layer_weights) != len(style_features):
        raise ValueError(
            "style_cost needs one weight per layer. Received: "
            f"layer_weights={layer_weights} for {len(style_features)} layers"
        )
    total = None
    for weight, a_S, a_G in zip(layer_weights, style_features, generated_features):
        term = weight * style_layer_cost(a_S, a_G, image_size=image_size)
        total = term if total is None else total + term
    return total
