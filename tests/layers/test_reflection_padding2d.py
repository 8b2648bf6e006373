import keras
import numpy as np
import pytest

from dlsuite.layers import ReflectionPadding2D
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(ReflectionPadding2D, init_kwargs={"padding": (2, 1)}, input_shape=(2, 5, 4, 3),
                expected_output_shape=(2, 9, 6, 3))


def test_mirrors_like_numpy_reflect():
    x = np.arange(2 * 4 * 5 * 3, dtype="float32").reshape(2, 4, 5, 3)
    expected = np.pad(x, [(0, 0), (3, 3), (2, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ReflectionPadding2D((3, 2))(x)),
                                  expected)


@pytest.mark.parametrize("padding", [-1, (1,), (1, 2, 3), 1.5, True])
def test_rejects_bad_padding(padding):
    with pytest.raises(ValueError, match="Received: padding="):
        ReflectionPadding2D(padding)


def test_rejects_a_pad_as_large_as_the_image():
    with pytest.raises(ValueError, match="height > its padding"):
        ReflectionPadding2D(4)(np.zeros((1, 4, 8, 1), "float32"))
