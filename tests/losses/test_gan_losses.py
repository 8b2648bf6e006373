"""Tests of losses.discriminator_loss and losses.generator_loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.losses import DiscriminatorLoss, GeneratorLoss, discriminator_loss, generator_loss


def _logits(shape=(5, 1), seed=0, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype("float32")


def _np_bce(target, logits):
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    return -(target * np.log(p) + (1 - target) * np.log(1 - p))


def test_discriminator_loss_is_keras_bce_without_smoothing():
    real, fake = _logits(seed=0), _logits(seed=1)
    expected = keras.losses.binary_crossentropy(
        np.ones_like(real), real, from_logits=True
    ) + keras.losses.binary_crossentropy(np.zeros_like(fake), fake, from_logits=True)
    actual = discriminator_loss(real, fake)
    assert tuple(actual.shape) == (5,)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(actual), keras.ops.convert_to_numpy(expected), rtol=1e-5
    )


def test_label_smoothing_is_one_sided():
    real, fake = _logits(seed=0), _logits(seed=1)
    actual = keras.ops.convert_to_numpy(discriminator_loss(real, fake, label_smoothing=0.1))
    expected = _np_bce(0.9, real) + _np_bce(0.0, fake)
    np.testing.assert_allclose(actual, expected[:, 0], rtol=1e-5)
    # Smoothing changes nothing on the fake side.
    only_fake = discriminator_loss(np.zeros_like(real), fake, 0.1) - discriminator_loss(
        np.zeros_like(real), fake, 0.0
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(only_fake), 0.0, atol=1e-6)


def test_extreme_logits_stay_finite_and_patch_maps_average():
    huge = np.array([[200.0], [-200.0]], "float32")
    for values in (
        discriminator_loss(huge, -huge, 0.1),
        discriminator_loss(-huge, huge),
        generator_loss(huge),
        generator_loss(-huge),
    ):
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(values)))
    patch_real, patch_fake = _logits((2, 3, 3, 1), 2), _logits((2, 3, 3, 1), 3)
    per_patch = _np_bce(1.0, patch_real) + _np_bce(0.0, patch_fake)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(discriminator_loss(patch_real, patch_fake)),
        per_patch.mean(axis=(1, 2, 3)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(generator_loss(patch_fake)),
        _np_bce(1.0, patch_fake).mean(axis=(1, 2, 3)),
        rtol=1e-5,
    )


def test_float16_logits_give_float32_losses():
    real = _logits().astype("float16")
    for values in (discriminator_loss(real, real), generator_loss(real)):
        assert keras.backend.standardize_dtype(values.dtype) == "float32"


def test_generator_loss_is_bce_against_real_and_does_not_saturate():
    fake = _logits()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(generator_loss(fake)), _np_bce(1.0, fake)[:, 0], rtol=1e-5
    )
    # Early in training D(G(z)) ~ 0: the saturating log(1 - D) has a tiny
    # gradient there, the non-saturating loss a gradient of about -1.
    logit = tf.Variable([[-10.0]])
    with tf.GradientTape(persistent=True) as tape:
        ours = tf.reduce_sum(generator_loss(logit))
        saturating = tf.reduce_sum(tf.math.log(1.0 - tf.sigmoid(logit)))
    assert abs(float(tape.gradient(ours, logit)[0, 0]) + 1.0) < 1e-3
    assert abs(float(tape.gradient(saturating, logit)[0, 0])) < 1e-3


def test_validation_messages():
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match=f"Received: label_smoothing={bad}"):
            discriminator_loss(_logits(), _logits(), label_smoothing=bad)
    with pytest.raises(ValueError, match="Received: label_smoothing=1.5"):
        DiscriminatorLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="Received: real_logits.shape"):
        discriminator_loss(_logits((2, 1)), _logits((2, 2)))


def test_discriminator_loss_class_sums_to_the_function():
    real, fake = _logits(seed=0), _logits(seed=1)
    logits = np.concatenate([real, fake])
    labels = np.concatenate([np.ones(5), np.zeros(5)]).astype("float32")
    for y_true in (labels, labels[:, None]):
        total = DiscriminatorLoss(label_smoothing=0.2, reduction="sum")(y_true, logits)
        expected = np.sum(keras.ops.convert_to_numpy(discriminator_loss(real, fake, 0.2)))
        np.testing.assert_allclose(float(total), expected, rtol=1e-5)


def test_generator_loss_class_wraps_the_function():
    fake = _logits()
    value = GeneratorLoss()(np.ones_like(fake), fake)
    np.testing.assert_allclose(
        float(value), np.mean(keras.ops.convert_to_numpy(generator_loss(fake))), rtol=1e-6
    )


@pytest.mark.parametrize(
    "loss", [DiscriminatorLoss(label_smoothing=0.1, reduction="sum"), GeneratorLoss(name="g")]
)
def test_loss_classes_serialize(loss):
    config = keras.saving.serialize_keras_object(loss)
    revived = keras.saving.deserialize_keras_object(config)
    assert type(revived) is type(loss)
    assert revived.get_config() == loss.get_config()


def test_a_discriminator_learns_with_fit():
    rng = np.random.default_rng(0)
    real = rng.normal(2.0, 0.5, (64, 2)).astype("float32")
    fake = rng.normal(-2.0, 0.5, (64, 2)).astype("float32")
    x = np.concatenate([real, fake])
    y = np.concatenate([np.ones(64), np.zeros(64)]).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=DiscriminatorLoss(0.1))
    # 150 steps in one epoch: per-epoch overhead dominates a tiny model.
    model.fit(np.tile(x, (150, 1)), np.tile(y, 150), batch_size=128, epochs=1, verbose=0, shuffle=False)
    d_real = keras.ops.convert_to_numpy(keras.ops.sigmoid(model(real)))
    d_fake = keras.ops.convert_to_numpy(keras.ops.sigmoid(model(fake)))
    # One-sided smoothing: D(x) settles near 1 - 0.1 on real data instead of
    # running to 1, while D(G(z)) still goes to 0.
    assert 0.82 < float(np.median(d_real)) < 0.96
    assert float(np.median(d_fake)) < 0.05
