"""Tests of layers.ResidualBlock."""

import keras
import numpy as np
import pytest

from dlsuite.layers import ResidualBlock
from tests.layer_checks import check_layer


def test_layer_checks_with_projection_shortcut():
    check_layer(
        ResidualBlock,
        init_kwargs={"filters": 4, "strides": 2, "use_bias": True},
        input_shape=(2, 5, 5, 3),
        expected_output_shape=(2, 3, 3, 4),
    )


def test_identity_shortcut_has_no_projection():
    block = ResidualBlock(filters=3)
    block.build((None, 4, 4, 3))
    assert block.shortcut_convolution is None
    # Two 3x3x3x3 kernels and two batch norms of 3 channels (4 vectors each).
    assert block.count_params() == 2 * 81 + 2 * 12


def test_projection_when_channels_change_even_with_stride_one():
    block = ResidualBlock(filters=4)
    block.build((None, 4, 4, 3))
    assert block.shortcut_convolution is not None
    assert block.shortcut_convolution.strides == (1, 1)


def test_identity_block_adds_its_input():
    # With every kernel zero, the main path is BN(0) = beta = 0, so the block
    # is relu(x): the identity shortcut carries the input through unchanged.
    block = ResidualBlock(filters=3, kernel_initializer="zeros")
    inputs = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype("float32")
    outputs = block(inputs, training=False)
    np.testing.assert_allclose(np.asarray(outputs), np.maximum(inputs, 0), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0}, "Received: filters=0"),
        ({"filters": 4, "strides": 0}, "Received: strides=0"),
        ({"filters": 4, "momentum": 1.5}, "Received: momentum=1.5"),
        ({"filters": 4, "epsilon": 0}, "Received: epsilon=0"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResidualBlock(**kwargs)


def test_rejects_inputs_that_are_not_images():
    with pytest.raises(ValueError, match="input_shape"):
        ResidualBlock(filters=4)(keras.Input(shape=(8,)))
