"""Tests of losses.r1_penalty and losses.R1Penalty."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.losses import R1Penalty, r1_penalty


def _gradients(shape=(3, 4, 4, 2), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_formula_and_lazy_interval():
    g = _gradients()
    expected = 0.5 * 10.0 * np.sum(g.astype("float64") ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(r1_penalty(g, 10.0)), expected, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(r1_penalty(g, 10.0, interval=16)),
                               16 * expected, rtol=1e-5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(r1_penalty(g, 0.0)), np.zeros(3))
    half = r1_penalty(g.astype("float16"), 1.0)
    assert keras.backend.standardize_dtype(half.dtype) == "float32"


def test_nested_gradient_of_a_linear_discriminator():
    """D(x) = sum(a * x): dD/dx = a, R1 = gamma/2 |a|^2, dR1/da = gamma * a."""
    a = tf.Variable(_gradients((1, 3, 3, 1), seed=1)[0])
    x = tf.constant(_gradients((2, 3, 3, 1), seed=2))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(tf.reduce_sum(a * x, axis=(1, 2, 3)))
        penalty = tf.reduce_mean(r1_penalty(inner.gradient(total, x), 4.0))
    np.testing.assert_allclose(penalty.numpy(), 2.0 * np.sum(a.numpy() ** 2), rtol=1e-5)
    np.testing.assert_allclose(outer.gradient(penalty, a).numpy(), 4.0 * a.numpy(), rtol=1e-5)


def test_loss_class_wraps_the_function_and_serializes():
    g = _gradients()
    loss = R1Penalty(gamma=2.0, interval=4, reduction="sum")
    np.testing.assert_allclose(
        float(loss(np.zeros(3), g)),
        float(np.sum(keras.ops.convert_to_numpy(r1_penalty(g, 2.0, 4)))), rtol=1e-5)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(revived) is R1Penalty and revived.get_config() == loss.get_config()


def test_validation_messages():
    for gamma in (-1.0, True, "1"):
        with pytest.raises(ValueError, match=f"Received: gamma={gamma}"):
            r1_penalty(_gradients(), gamma)
    for interval in (0, 1.5):
        with pytest.raises(ValueError, match=f"Received: interval={interval}"):
            R1Penalty(interval=interval)
    with pytest.raises(ValueError, match="Received: real_gradients.shape"):
        r1_penalty(np.float32(1.0))
