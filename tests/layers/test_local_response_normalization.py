"""Tests of layers.LocalResponseNormalization."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import LocalResponseNormalization
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(
        LocalResponseNormalization,
        init_kwargs={"depth_radius": 2, "bias": 2.0, "alpha": 1e-4, "beta": 0.75},
        input_shape=(2, 3, 3, 7),
        expected_output_shape=(2, 3, 3, 7),
    )


@pytest.mark.parametrize(
    "depth_radius, bias, alpha, beta",
    [
        (2, 2.0, 1e-4, 0.75),  # AlexNet
        (5, 1.0, 1.0, 0.5),  # tf.nn defaults
        (0, 1.0, 0.3, 1.0),
        (4, 0.5, 0.01, 0.6),  # window wider than the channels at the edges
    ],
)
def test_equals_tf_nn_local_response_normalization(depth_radius, bias, alpha, beta):
    inputs = 10.0 * np.random.default_rng(0).standard_normal((2, 4, 5, 6)).astype("float32")
    layer = LocalResponseNormalization(depth_radius, bias=bias, alpha=alpha, beta=beta)
    expected = tf.nn.local_response_normalization(
        inputs, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta
    ).numpy()
    np.testing.assert_allclose(np.asarray(layer(inputs)), expected, rtol=1e-5, atol=1e-5)


def test_large_activations_do_not_overflow_in_float16():
    inputs = np.full((1, 2, 2, 4), 1000.0, "float32")
    layer = LocalResponseNormalization(2, bias=2.0, alpha=1e-4, beta=0.75, dtype="mixed_float16")
    outputs = np.asarray(layer(inputs), dtype="float32")
    expected = tf.nn.local_response_normalization(
        inputs, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75
    ).numpy()
    np.testing.assert_allclose(outputs, expected, rtol=2e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"depth_radius": -1}, "Received: depth_radius=-1"),
        ({"depth_radius": 2.5}, "Received: depth_radius=2.5"),
        ({"bias": 0.0}, "Received: bias=0.0"),
        ({"alpha": -1.0}, "Received: alpha=-1.0"),
        ({"beta": -0.5}, "Received: beta=-0.5"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)
