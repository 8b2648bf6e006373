"""Tests of layers.MappingNetwork: z -> w with pixel norm and equalised learning rate."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import MappingNetwork
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(MappingNetwork, init_kwargs={"units": 6, "num_layers": 2,
                                             "learning_rate_multiplier": 0.1},
                input_shape=(3, 5), expected_output_shape=(3, 6))


def _numpy_mapping(layer, z):
    z = z.astype("float64")
    x = z / np.sqrt(np.mean(z**2, axis=-1, keepdims=True) + layer.epsilon)
    lr_mul = layer.learning_rate_multiplier
    for kernel, bias in zip(layer.kernels, layer.biases):
        kernel, bias = kernel.numpy().astype("float64"), bias.numpy().astype("float64")
        h = x @ (kernel * lr_mul / np.sqrt(kernel.shape[0])) + bias * lr_mul
        x = np.where(h > 0, h, 0.2 * h) * np.sqrt(2.0)
    return x


def test_formula_and_pixel_norm():
    layer = MappingNetwork(units=4, num_layers=3, learning_rate_multiplier=0.5)
    z = np.random.default_rng(0).standard_normal((5, 7)).astype("float32")
    w = layer(z)
    for bias in layer.biases:  # nonzero biases, so the bias term counts
        bias.assign(np.random.default_rng(1).standard_normal(bias.shape))
    w = keras.ops.convert_to_numpy(layer(z))
    np.testing.assert_allclose(w, _numpy_mapping(layer, z), rtol=1e-4, atol=1e-5)
    # Pixel norm: a code's length does not matter, only its direction.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(3.0 * z)), w, rtol=1e-4, atol=1e-5)
    unnormalised = MappingNetwork(units=4, num_layers=3, normalize_input=False)
    unnormalised(z)
    assert not np.allclose(keras.ops.convert_to_numpy(unnormalised(3.0 * z)),
                           keras.ops.convert_to_numpy(unnormalised(z)))


def test_effective_weights_have_unit_gain():
    # The equalised learning rate: effective weights ~ N(0, 1 / fan_in) for
    # any multiplier, so activations keep their scale through the stack.
    z = np.random.default_rng(0).standard_normal((4000, 64)).astype("float32")
    for lr_mul in (1.0, 0.01):
        layer = MappingNetwork(units=64, num_layers=4, learning_rate_multiplier=lr_mul)
        w = keras.ops.convert_to_numpy(layer(z))
        assert 0.5 < float(np.sqrt(np.mean(w**2))) < 2.0, lr_mul


def test_learning_rate_multiplier_scales_adam_steps():
    """With Adam (steps of about the learning rate in the stored weights),
    the effective weights move lr_mul times as far."""
    z = np.random.default_rng(0).standard_normal((16, 5)).astype("float32")
    target = np.random.default_rng(1).standard_normal((16, 3)).astype("float32")
    moves = {}
    for lr_mul in (1.0, 0.1):
        layer = MappingNetwork(units=3, num_layers=1, learning_rate_multiplier=lr_mul)
        layer.build((None, 5))
        # The same effective weights for both multipliers.
        effective = np.random.default_rng(2).standard_normal((5, 3)) / np.sqrt(5)
        layer.kernels[0].assign(effective * np.sqrt(5) / lr_mul)
        optimizer = keras.optimizers.Adam(1e-3)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(z) - target))
        optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights),
                                      layer.trainable_weights))
        after = layer.kernels[0].numpy() * lr_mul / np.sqrt(5)
        moves[lr_mul] = np.abs(after - effective).mean()
    # (Adam's epsilon and float32 rounding of the larger stored weights: 0.1%.)
    np.testing.assert_allclose(moves[0.1] / moves[1.0], 0.1, rtol=1e-2)


def test_validation_messages():
    for kwargs, message in (({"units": 0}, "Received: units=0"),
                            ({"units": 4, "num_layers": 0}, "Received: num_layers=0"),
                            ({"units": 4, "learning_rate_multiplier": 0.0},
                             "Received: learning_rate_multiplier=0.0"),
                            ({"units": 4, "normalize_input": 1}, "Received: normalize_input=1"),
                            ({"units": 4, "epsilon": 0}, "Received: epsilon=0")):
        with pytest.raises(ValueError, match=message):
            MappingNetwork(**kwargs)
    with pytest.raises(ValueError, match="Received: input_shape"):
        MappingNetwork(units=4).build((2, 3, 4))
