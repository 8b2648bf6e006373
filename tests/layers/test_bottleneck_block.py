"""Tests of layers.BottleneckBlock."""

import keras
import numpy as np
import pytest

from dlsuite.layers import BottleneckBlock
from tests.layer_checks import check_layer


def test_layer_checks_with_projection_shortcut():
    check_layer(
        BottleneckBlock,
        init_kwargs={"filters": 2, "strides": 2},
        input_shape=(2, 5, 5, 3),
        expected_output_shape=(2, 3, 3, 8),
    )


def test_expansion_sets_output_channels_and_identity_when_they_match():
    block = BottleneckBlock(filters=2, expansion=3)
    assert block.compute_output_shape((None, 4, 4, 6)) == (None, 4, 4, 6)
    block.build((None, 4, 4, 6))
    assert block.shortcut_convolution is None


def test_parameter_count_matches_keras_applications_block():
    # The first block of ResNet-50's conv2 stage in keras.applications:
    # 64 -> (64, 64, 256) with biases and a 256-channel projection.
    block = BottleneckBlock(filters=64, use_bias=True)
    block.build((None, 56, 56, 64))
    expected = (
        (64 * 64 + 64) + 4 * 64  # 1x1 reduce + BN
        + (9 * 64 * 64 + 64) + 4 * 64  # 3x3 + BN
        + (64 * 256 + 256) + 4 * 256  # 1x1 expand + BN
        + (64 * 256 + 256) + 4 * 256  # projection + BN
    )
    assert block.count_params() == expected == 76928


def test_identity_block_adds_its_input():
    block = BottleneckBlock(filters=2, expansion=2, kernel_initializer="zeros")
    inputs = np.random.default_rng(0).standard_normal((1, 3, 3, 4)).astype("float32")
    outputs = block(inputs, training=False)
    np.testing.assert_allclose(np.asarray(outputs), np.maximum(inputs, 0), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": -1}, "Received: filters=-1"),
        ({"filters": 4, "strides": 1.5}, "Received: strides=1.5"),
        ({"filters": 4, "expansion": 0}, "Received: expansion=0"),
        ({"filters": 4, "momentum": -0.1}, "Received: momentum=-0.1"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BottleneckBlock(**kwargs)


def test_rejects_inputs_that_are_not_images():
    with pytest.raises(ValueError, match="input_shape"):
        BottleneckBlock(filters=4)(keras.Input(shape=(4, 8)))
