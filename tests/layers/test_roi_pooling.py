"""ROIPooling: the Fast R-CNN bins and their maxima against a numpy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import ROIPooling
from tests.layer_checks import check_layer


def _reference(features, rois, pooled, scale):
    height, width = features.shape[1:3]
    out = np.zeros(rois.shape[:2] + pooled + features.shape[-1:], np.float32)
    for b in range(rois.shape[0]):
        for r in range(rois.shape[1]):
            x1, y1, x2, y2 = rois[b, r]
            start_x, start_y = int(np.floor(x1 * scale)), int(np.floor(y1 * scale))
            cells_w = max(int(np.ceil(x2 * scale)) - start_x, 1)
            cells_h = max(int(np.ceil(y2 * scale)) - start_y, 1)
            for i in range(pooled[0]):
                top = min(max(start_y + (i * cells_h) // pooled[0], 0), height)
                bottom = min(max(start_y + -(-(i + 1) * cells_h // pooled[0]), 0), height)
                for j in range(pooled[1]):
                    left = min(max(start_x + (j * cells_w) // pooled[1], 0), width)
                    right = min(max(start_x + -(-(j + 1) * cells_w // pooled[1]), 0),
                                width)
                    if bottom > top and right > left:
                        out[b, r, i, j] = features[b, top:bottom, left:right].max(axis=(0, 1))
    return out


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, 6, 7, 3)).astype("float32")
    corners = rng.uniform(-10, 60, size=(2, 6, 2, 2))
    rois = np.concatenate([corners.min(2), corners.max(2) + 0.5], -1).astype("float32")
    rois[0, 0] = [0, 0, 56, 48]          # the whole map
    rois[0, 1] = [9, 9, 11, 10]          # smaller than a cell
    rois[1, 0] = [70, 60, 90, 80]        # wholly outside: zeros
    return features, rois


@pytest.mark.parametrize("pooled", [(2, 2), (3, 2), (7, 7)])
def test_pooling_equals_the_formula(pooled):
    features, rois = _inputs()
    got = keras.ops.convert_to_numpy(ROIPooling(pooled, spatial_scale=1 / 8)([features, rois]))
    np.testing.assert_allclose(got, _reference(features, rois, pooled, 1 / 8), atol=1e-6)
    assert not got[1, 0].any()


def test_compiled_graph_pools_the_same_cells_as_eager():
    # Regions of 7, 14 and 21 cells into 7 bins: bin edges j * w / 7 are
    # whole numbers, where a float division compiled as a multiplication by
    # 1 / 7 rounds up and ceil() moves the edge a cell (it did: the Fast
    # R-CNN export disagreed with the live model on its classes).
    rng = np.random.default_rng(3)
    features = rng.normal(size=(1, 24, 24, 2)).astype("float32")
    rois = np.array([[[0, 0, 56, 56], [8, 16, 120, 128], [0, 8, 168, 176],
                      [20, 103, 67, 122]]], "float32")
    layer = ROIPooling(7, spatial_scale=1 / 8)
    eager = keras.ops.convert_to_numpy(layer([features, rois]))
    compiled = tf.function(lambda f, r: layer([f, r]))(tf.constant(features), tf.constant(rois))
    np.testing.assert_array_equal(compiled.numpy(), eager)
    np.testing.assert_allclose(eager, _reference(features, rois, (7, 7), 1 / 8), atol=1e-6)


def test_gradient_goes_to_the_maximum_of_each_bin():
    values = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    features = tf.constant(values)
    with tf.GradientTape() as tape:
        tape.watch(features)
        out = ROIPooling(2, spatial_scale=1.0)([features, np.array([[[0, 0, 4, 4]]], "float32")])
        total = tf.reduce_sum(out)
    gradient = tape.gradient(total, features).numpy()[0, :, :, 0]
    expected = np.zeros((4, 4))
    expected[[1, 1, 3, 3], [1, 3, 1, 3]] = 1.0
    np.testing.assert_array_equal(gradient, expected)


@pytest.mark.parametrize("kwargs, message", [
    ({"pooled_size": (2, 0)}, "pooled_size must be"),
    ({"spatial_scale": -1}, "spatial_scale must be"),
])
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"{message}.*Received"):
        ROIPooling(**kwargs)


def test_called_on_one_tensor_is_a_clear_error():
    with pytest.raises(ValueError, match="called on \\[features, rois\\]"):
        ROIPooling().build((1, 4, 4, 2))


def test_layer_checks():
    features, rois = _inputs(1)
    check_layer(ROIPooling, {"pooled_size": 2, "spatial_scale": 0.125},
                input_shape=[features.shape, rois.shape],
                expected_output_shape=(2, 6, 2, 2, 3), input_data=[features, rois])
