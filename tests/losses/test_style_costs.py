"""Gram matrix, content, style and total-variation costs against numpy written here."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.losses import (StyleTransferLoss, content_cost, gram_matrix, style_cost, style_layer_cost,
                    total_variation)


def _map(shape, seed):
    return np.random.default_rng(seed).uniform(0, 3, shape).astype("float32")


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def numpy_gram(a):
    batch, height, width, channels = a.shape
    unrolled = a.astype("float64").reshape(batch, height * width, channels)
    return np.einsum("bpk,bpl->bkl", unrolled, unrolled)


def numpy_layer_cost(a_S, a_G):
    """The curriculum's formula with the layer's own nH, nW, nC."""
    _, height, width, channels = a_G.shape
    difference = numpy_gram(a_S) - numpy_gram(a_G)
    return (difference ** 2).sum(axis=(1, 2)) / (4 * channels ** 2 * (height * width) ** 2)


def numpy_keras_io_cost(a_S, a_G, image_height, image_width):
    """keras-io's: every layer by the image's size and 3 channels."""
    difference = numpy_gram(a_S) - numpy_gram(a_G)
    return (difference ** 2).sum(axis=(1, 2)) / (4 * 3 ** 2 * (image_height * image_width) ** 2)


def test_gram_matrix_sums_products_over_positions():
    a = _map((2, 5, 3, 4), 0)
    np.testing.assert_allclose(_np(gram_matrix(a)), numpy_gram(a), rtol=1e-5)
    np.testing.assert_allclose(_np(gram_matrix(a, normalize=True)), numpy_gram(a) / 15, rtol=1e-5)
    assert _np(gram_matrix(a.astype("float16"))).dtype == np.float32


def test_gram_matrix_with_unknown_height_and_width():
    a = _map((1, 6, 7, 3), 1)
    traced = tf.function(lambda x: gram_matrix(x, normalize=True),
                         input_signature=[tf.TensorSpec((None, None, None, 3))])
    np.testing.assert_allclose(traced(a).numpy(), numpy_gram(a) / 42, rtol=1e-5)


def test_gram_matrix_rejects_other_ranks():
    with pytest.raises(ValueError, match="Received: features.shape=\\(2, 3\\)"):
        gram_matrix(np.ones((2, 3)))


def test_content_cost_both_normalisations():
    a_C, a_G = _map((3, 4, 5, 6), 2), _map((3, 4, 5, 6), 3)
    squared = ((a_C.astype("float64") - a_G) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(_np(content_cost(a_C, a_G, normalize=False)), squared / 2,
                               rtol=1e-5)
    np.testing.assert_allclose(_np(content_cost(a_C, a_G)), squared / (4 * 4 * 5 * 6), rtol=1e-5)
    # A content target of batch 1 serves every generated image.
    np.testing.assert_allclose(_np(content_cost(a_C[:1], a_G)),
                               ((a_C[:1].astype("float64") - a_G) ** 2).sum(axis=(1, 2, 3)) / 480,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="same nH, nW, nC"):
        content_cost(a_C, a_G[:, :2])


def test_style_layer_cost_uses_each_layers_own_sizes():
    """Two layers of different sizes, as a VGG trunk gives them: each cost
    matches the formula with ITS OWN nH, nW, nC, and differs (by ~100x here)
    from keras-io's normalisation by the image's size."""
    image_height = image_width = 16
    layers = [((2, 16, 16, 3), 4), ((2, 4, 4, 12), 5)]  # full size, and 1/4 size with 4x channels
    for shape, seed in layers:
        a_S, a_G = _map(shape, seed), _map(shape, seed + 10)
        ours = _np(style_layer_cost(a_S, a_G))
        np.testing.assert_allclose(ours, numpy_layer_cost(a_S, a_G), rtol=1e-4)
        keras_io = numpy_keras_io_cost(a_S, a_G, image_height, image_width)
        np.testing.assert_allclose(_np(style_layer_cost(a_S, a_G, image_size=(16, 16))), keras_io,
                                   rtol=1e-4)
        if shape[1] != image_height:
            # (nC nH nW / (3 H W))^2 = (12 * 16 / 768)^2 = 1/16: not the same number.
            assert np.all(np.abs(ours / keras_io - 16.0) < 1e-2)


def test_style_cost_is_the_weighted_sum_of_layer_costs():
    style = [_map((1, 8, 8, 3), 6), _map((1, 4, 4, 6), 7)]
    generated = [_map((2, 8, 8, 3), 8), _map((2, 4, 4, 6), 9)]
    expected = sum(weight * numpy_layer_cost(np.repeat(a_S, 2, axis=0), a_G)
                   for weight, a_S, a_G in zip((0.3, 0.7), style, generated))
    np.testing.assert_allclose(_np(style_cost(style, generated, [0.3, 0.7])), expected, rtol=1e-4)
    equal = sum(0.5 * numpy_layer_cost(np.repeat(a_S, 2, axis=0), a_G)
                for a_S, a_G in zip(style, generated))
    np.testing.assert_allclose(_np(style_cost(style, generated)), equal, rtol=1e-4)
    with pytest.raises(ValueError, match="one weight per layer"):
        style_cost(style, generated, [1.0])
    with pytest.raises(ValueError, match="one style and one generated"):
        style_cost(style, generated[:1])


def test_style_cost_takes_precomputed_grams_and_other_sized_style_maps():
    a_S, a_G = _map((1, 8, 8, 4), 11), _map((3, 8, 8, 4), 12)
    from_features = _np(style_layer_cost(a_S, a_G))
    from_gram = _np(style_layer_cost(gram_matrix(a_S, normalize=True), a_G))
    np.testing.assert_allclose(from_gram, from_features, rtol=1e-6)
    # A style map of another size is compared through position-averaged Grams.
    tiled = np.tile(a_S, (1, 2, 3, 1))  # same statistics, 6x the positions
    np.testing.assert_allclose(_np(style_layer_cost(tiled, a_G)), from_features, rtol=1e-4)
    with pytest.raises(ValueError, match="same channels"):
        style_layer_cost(_map((1, 8, 8, 3), 0), a_G)


def test_total_variation_against_numpy():
    images = _map((2, 5, 7, 3), 13).astype("float64")
    vertical = ((images[:, 1:] - images[:, :-1]) ** 2).sum(axis=(1, 2, 3))
    horizontal = ((images[:, :, 1:] - images[:, :, :-1]) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(_np(total_variation(images.astype("float32"))),
                               (vertical + horizontal) / (5 * 7 * 3), rtol=1e-5)
    flat = np.full((1, 4, 4, 3), 7.0, "float32")
    assert _np(total_variation(flat))[0] == 0.0


def _features(seed):
    return {"content": [_map((2, 4, 4, 6), seed)],
            "style": [_map((2, 8, 8, 3), seed + 1), _map((2, 4, 4, 6), seed + 2)],
            "images": _map((2, 16, 16, 3), seed + 3) * 80}


def test_style_transfer_loss_combines_the_terms():
    target, generated = _features(20), _features(30)
    y_true = {"content": target["content"], "style": [a[:1] for a in target["style"]]}
    loss = StyleTransferLoss(alpha=2.0, beta=3.0, tv_weight=0.5, style_layer_weights=[0.25, 0.75])
    terms = {k: _np(v) for k, v in loss.terms(y_true, generated).items()}
    content = ((target["content"][0].astype("float64") - generated["content"][0]) ** 2).sum(
        axis=(1, 2, 3)) / (4 * 4 * 4 * 6)
    numpy_layer = sum(w * numpy_layer_cost(np.repeat(s[:1], 2, axis=0), g) for w, s, g in
                      zip((0.25, 0.75), target["style"], generated["style"]))
    np.testing.assert_allclose(terms["content_cost"], content, rtol=1e-4)
    np.testing.assert_allclose(terms["style_cost"], numpy_layer, rtol=1e-4)
    np.testing.assert_allclose(terms["loss"], 2 * content + 3 * numpy_layer
                               + 0.5 * terms["total_variation"], rtol=1e-4)
    np.testing.assert_allclose(float(loss(y_true, generated)), terms["loss"].mean(), rtol=1e-5)
    revived = StyleTransferLoss.from_config(loss.get_config())
    assert revived.get_config() == loss.get_config()


def test_style_transfer_loss_in_float32_from_bfloat16_and_keras_io_variant():
    target, generated = _features(40), _features(50)
    half = {k: ([tf.cast(a, tf.bfloat16) for a in v] if isinstance(v, list) else v)
            for k, v in generated.items()}
    loss = StyleTransferLoss(alpha=1.0, beta=1.0)
    assert _np(loss.terms(target, half)["loss"]).dtype == np.float32
    keras_io = StyleTransferLoss(alpha=1.0, beta=1.0, style_normalization="image")
    expected = sum(0.5 * numpy_keras_io_cost(s, g, 16, 16)
                   for s, g in zip(target["style"], generated["style"]))
    np.testing.assert_allclose(_np(keras_io.terms(target, generated)["style_cost"]), expected,
                               rtol=1e-4)


def test_gradient_of_the_loss_reaches_the_image():
    target = _features(60)
    image = tf.Variable(_map((1, 8, 8, 3), 70) * 80)
    loss = StyleTransferLoss(alpha=1.0, beta=1.0, tv_weight=1.0)
    with tf.GradientTape() as tape:
        # Stand-ins for a feature network: maps of the target's shapes.
        small = tf.tile(tf.image.resize(image, (4, 4)), (1, 1, 1, 2))
        terms = loss.terms({"content": [t[:1] for t in target["content"]],
                            "style": [t[:1] for t in target["style"]]},
                           {"content": [small], "style": [image, small], "images": image})
    gradient = tape.gradient(terms["loss"], image)
    assert gradient is not None and np.all(np.isfinite(gradient.numpy()))
    assert float(tf.reduce_max(tf.abs(gradient))) > 0


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": -1.0}, "alpha must be a number >= 0"),
    ({"style_normalization": "pixels"}, "style_normalization must be one of"),
    ({"style_layer_weights": []}, "style_layer_weights must be non-empty"),
])
def test_style_transfer_loss_validates_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StyleTransferLoss(**kwargs)


def test_style_transfer_loss_needs_images_for_total_variation():
    target = _features(80)
    generated = {k: v for k, v in _features(90).items() if k != "images"}
    with pytest.raises(ValueError, match="needs 'images'"):
        StyleTransferLoss(tv_weight=1.0).terms(target, generated)
