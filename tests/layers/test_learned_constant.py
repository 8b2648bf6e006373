"""Tests of layers.LearnedConstant."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import LearnedConstant
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(LearnedConstant, init_kwargs={"shape": (2, 2, 3)}, input_shape=(2, 5),
                expected_output_shape=(2, 2, 2, 3))


def test_every_example_gets_the_constant_and_its_gradient_sums_over_the_batch():
    layer = LearnedConstant(shape=(2, 3))
    x = np.random.default_rng(0).standard_normal((4, 7)).astype("float32")
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(y * tf.reshape(tf.range(4, dtype=tf.float32), (4, 1, 1)))
    values = y.numpy()
    for row in values:
        np.testing.assert_array_equal(row, layer.constant.numpy())
    np.testing.assert_allclose(tape.gradient(loss, layer.constant).numpy(), np.full((2, 3), 6.0))


def test_validation_messages():
    for shape in ((), (4, 0), (2.0,), 3):
        with pytest.raises(ValueError, match="Received: shape="):
            LearnedConstant(shape=shape)
