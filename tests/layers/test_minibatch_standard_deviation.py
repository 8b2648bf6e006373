"""Tests of layers.MinibatchStandardDeviation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import MinibatchStandardDeviation
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(MinibatchStandardDeviation, init_kwargs={"group_size": 2},
                input_shape=(4, 3, 3, 2), expected_output_shape=(4, 3, 3, 3))


def _reference(x, group):
    x = x.astype("float64")
    out = []
    for start in range(0, len(x), group):
        members = x[start:start + group]
        value = np.sqrt(members.var(axis=0) + 1e-8).mean()
        out += [value] * len(members)
    return np.array(out)


def test_consecutive_groups_and_the_feature():
    x = np.random.default_rng(0).standard_normal((8, 3, 3, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(MinibatchStandardDeviation(group_size=4)(x))
    np.testing.assert_array_equal(y[..., :2], x)
    np.testing.assert_allclose(y[:, 0, 0, 2], _reference(x, 4), rtol=1e-5)
    assert np.all(y[..., 2] == y[:, :1, :1, 2]), "one value per example, over every pixel"
    # Each half of the batch alone (a replica's slice) gives the same values.
    halves = np.concatenate([keras.ops.convert_to_numpy(
        MinibatchStandardDeviation(group_size=4)(part)) for part in (x[:4], x[4:])])
    np.testing.assert_allclose(halves, y, rtol=1e-6)


@pytest.mark.parametrize("batch, group", [(6, 3), (5, 1), (3, 3), (2, 2)])
def test_a_batch_the_group_size_does_not_divide_uses_its_largest_divisor(batch, group):
    x = np.random.default_rng(1).standard_normal((batch, 2, 2, 1)).astype("float32")
    layer = MinibatchStandardDeviation(group_size=4)
    traced = tf.function(layer, input_signature=[tf.TensorSpec((None, 2, 2, 1))])
    for y in (layer(x), traced(x)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(y)[:, 0, 0, 1],
                                   _reference(x, group), rtol=1e-5, atol=1e-6)


def test_identical_examples_give_a_zero_feature():
    x = np.repeat(np.random.default_rng(2).standard_normal((1, 2, 2, 3)), 4, 0).astype("float32")
    y = keras.ops.convert_to_numpy(MinibatchStandardDeviation()(x))
    assert np.all(y[..., 3] < 1e-3)


def test_validation_messages():
    with pytest.raises(ValueError, match="Received: group_size=0"):
        MinibatchStandardDeviation(group_size=0)
    with pytest.raises(ValueError, match="Received: epsilon=0"):
        MinibatchStandardDeviation(epsilon=0)
    with pytest.raises(ValueError, match="Received: input_shape"):
        MinibatchStandardDeviation().build((2, 3))
