import keras
import numpy as np
import pytest

from dlsuite.layers import GramMatrix
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(GramMatrix, init_kwargs={"normalize": True}, input_shape=(2, 5, 4, 3),
                expected_output_shape=(2, 3, 3))


def test_values_match_numpy():
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype("float32")
    unrolled = a.reshape(2, 12, 5).astype("float64")
    expected = np.einsum("bpk,bpl->bkl", unrolled, unrolled)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(GramMatrix()(a)), expected, rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(GramMatrix(normalize=True)(a)),
                               expected / 12, rtol=1e-5)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Received: normalize=1"):
        GramMatrix(normalize=1)
    with pytest.raises(ValueError, match="input_shape=\\(2, 3\\)"):
        GramMatrix()(np.ones((2, 3), "float32"))
