"""Tests of layers.NoiseInjection: per-pixel noise, learned per-channel strength."""

import keras
import numpy as np
import pytest

from dlsuite.layers import NoiseInjection
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(NoiseInjection, init_kwargs={"seed": 3}, input_shape=(2, 4, 4, 3),
                expected_output_shape=(2, 4, 4, 3))


def _layer_with_strength(strength, seed=5):
    layer = NoiseInjection(seed=seed)
    layer.build((None, 6, 6, len(strength)))
    layer.strength.assign(np.asarray(strength, "float32"))
    return layer


def test_formula_with_given_noise_broadcasts_one_map_over_channels():
    layer = _layer_with_strength([0.5, -2.0, 0.0])
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype("float32")
    noise = np.random.default_rng(1).standard_normal((2, 6, 6, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, noise=noise))
    np.testing.assert_allclose(y, x + noise * np.array([0.5, -2.0, 0.0]), rtol=1e-6, atol=1e-6)
    # One fixed map for the whole batch broadcasts too.
    fixed = keras.ops.convert_to_numpy(layer(x, noise=noise[:1]))
    np.testing.assert_allclose(fixed[1] - x[1], fixed[0] - x[0], atol=1e-6)


def test_drawn_noise_is_one_standard_normal_map_per_example():
    layer = _layer_with_strength([1.0, 3.0])
    x = np.zeros((64, 6, 6, 2), "float32")
    y = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(y[..., 1], 3.0 * y[..., 0], rtol=1e-5, atol=1e-6)
    assert abs(float(y[..., 0].mean())) < 0.05 and abs(float(y[..., 0].std()) - 1.0) < 0.05
    assert not np.allclose(y[0], y[1]), "each example gets its own map"


def test_seeded_layers_repeat_and_successive_draws_differ():
    x = np.zeros((2, 6, 6, 1), "float32")
    first, second = _layer_with_strength([1.0], seed=11), _layer_with_strength([1.0], seed=11)
    a = keras.ops.convert_to_numpy(first(x))
    np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(second(x)))
    assert not np.allclose(a, keras.ops.convert_to_numpy(first(x)))


def test_starts_as_the_identity():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 4)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(NoiseInjection(seed=1)(x)), x)


def test_validation_messages():
    with pytest.raises(ValueError, match="Received: seed=1.5"):
        NoiseInjection(seed=1.5)
    with pytest.raises(ValueError, match="Received: input_shape"):
        NoiseInjection().build((2, 3, 4))
