"""Tests of layers.InceptionModule."""

import keras
import numpy as np
import pytest

from dlsuite.layers import InceptionModule
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(
        InceptionModule,
        init_kwargs={
            "filters_1x1": 2,
            "filters_3x3_reduce": 2,
            "filters_3x3": 3,
            "filters_5x5_reduce": 1,
            "filters_5x5": 2,
            "filters_pool_projection": 1,
        },
        input_shape=(2, 5, 5, 3),
        expected_output_shape=(2, 5, 5, 8),
    )


def test_inception_3a_parameter_count_matches_the_paper():
    # GoogLeNet table 1, inception (3a) on 28x28x192: "159K" parameters
    # (the table's counts are rounded estimates; the exact count is 163K).
    module = InceptionModule(64, 96, 128, 16, 32, 32)
    module.build((None, 28, 28, 192))
    kernels = 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    biases = 64 + 96 + 128 + 16 + 32 + 32
    assert module.count_params() == kernels + biases
    assert abs(kernels - 159_000) / 159_000 < 0.03


def test_branches_are_concatenated_in_order():
    # Give only the pooling branch non-zero weights: its 1 channel is last.
    module = InceptionModule(1, 1, 1, 1, 1, 1, kernel_initializer="zeros")
    inputs = np.ones((1, 3, 3, 2), "float32")
    module.build(inputs.shape)
    module.branch_pool_projection.kernel.assign(np.ones((1, 1, 2, 1), "float32"))
    outputs = np.asarray(module(inputs))
    np.testing.assert_allclose(outputs[..., :3], 0.0)
    np.testing.assert_allclose(outputs[..., 3], 2.0)


@pytest.mark.parametrize(
    "name", ["filters_1x1", "filters_3x3_reduce", "filters_5x5", "filters_pool_projection"]
)
def test_invalid_widths(name):
    kwargs = {
        "filters_1x1": 1,
        "filters_3x3_reduce": 1,
        "filters_3x3": 1,
        "filters_5x5_reduce": 1,
        "filters_5x5": 1,
        "filters_pool_projection": 1,
    }
    kwargs[name] = 0
    with pytest.raises(ValueError, match=f"Received: {name}=0"):
        InceptionModule(**kwargs)


def test_rejects_inputs_that_are_not_images():
    with pytest.raises(ValueError, match="input_shape"):
        InceptionModule(1, 1, 1, 1, 1, 1)(keras.Input(shape=(8,)))
