"""ROIAlign: the bilinear sampling formula against a numpy reference, and
against TensorFlow's crop_and_resize on the same points."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import ROIAlign
from tests.layer_checks import check_layer


def _bilinear(feature, y, x):
    """Detectron's rule for one sample of a (H, W, C) map."""
    height, width = feature.shape[:2]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(feature.shape[-1])
    y, x = min(max(y, 0.0), height - 1.0), min(max(x, 0.0), width - 1.0)
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * feature[y0, x0] + (1 - ly) * lx * feature[y0, x1]
            + ly * (1 - lx) * feature[y1, x0] + ly * lx * feature[y1, x1])


def _reference(features, rois, pooled, scale, samples, aligned=True):
    out = np.zeros(rois.shape[:2] + pooled + features.shape[-1:])
    offset = 0.5 if aligned else 0.0
    for b in range(rois.shape[0]):
        for r in range(rois.shape[1]):
            x1, y1, x2, y2 = rois[b, r] * scale - offset
            if not aligned:
                x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
            bin_h, bin_w = (y2 - y1) / pooled[0], (x2 - x1) / pooled[1]
            for i in range(pooled[0]):
                for j in range(pooled[1]):
                    values = [_bilinear(features[b], y1 + (i + (k + 0.5) / samples) * bin_h,
                                        x1 + (j + (m + 0.5) / samples) * bin_w)
                              for k in range(samples) for m in range(samples)]
                    out[b, r, i, j] = np.mean(values, axis=0)
    return out


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, 6, 7, 3)).astype("float32")
    corners = rng.uniform(-6, 60, size=(2, 5, 2, 2))
    rois = np.concatenate([corners.min(2), corners.max(2) + 1], -1).astype("float32")
    rois[0, 0] = [0, 0, 56, 48]          # the whole map
    rois[1, 0] = [60, 50, 90, 70]        # partly outside
    return features, rois


@pytest.mark.parametrize("samples, aligned", [(1, True), (2, True), (2, False)])
def test_pooling_equals_the_formula(samples, aligned):
    features, rois = _inputs()
    layer = ROIAlign(pooled_size=(3, 2), spatial_scale=1 / 8, sampling_ratio=samples,
                     aligned=aligned)
    got = keras.ops.convert_to_numpy(layer([features, rois]))
    np.testing.assert_allclose(got, _reference(features, rois, (3, 2), 1 / 8, samples, aligned),
                               atol=1e-5)


def test_one_sample_per_bin_reads_the_points_crop_and_resize_reads():
    """crop_and_resize samples crop_h points from box y1 to y2 (ends
    included, in units of (H - 1)); boxes placed on the bin centres give
    ROIAlign's samples, for regions inside the map."""
    rng = np.random.default_rng(3)
    features = rng.normal(size=(1, 9, 11, 4)).astype("float32")
    rois = np.array([[[8, 8, 80, 64], [20, 4, 44, 30], [0, 0, 88, 72]]], "float32")
    rows, cols, scale = 4, 3, 1 / 8
    got = keras.ops.convert_to_numpy(
        ROIAlign((rows, cols), spatial_scale=scale, sampling_ratio=1)([features, rois]))
    x1, y1, x2, y2 = np.moveaxis(rois[0] * scale - 0.5, -1, 0)
    bin_h, bin_w = (y2 - y1) / rows, (x2 - x1) / cols
    first_y, last_y = y1 + 0.5 * bin_h, y1 + (rows - 0.5) * bin_h
    first_x, last_x = x1 + 0.5 * bin_w, x1 + (cols - 0.5) * bin_w
    boxes = np.stack([first_y / 8, first_x / 10, last_y / 8, last_x / 10], -1)
    expected = tf.image.crop_and_resize(features, boxes, np.zeros(3, np.int32),
                                        (rows, cols)).numpy()
    inside = (np.minimum(first_y, first_x) >= 0) & (last_y <= 8) & (last_x <= 10)
    assert inside.sum() >= 2
    np.testing.assert_allclose(got[0][inside], expected[inside], atol=1e-5)


def test_gradient_reaches_the_features_at_the_sampled_cells():
    features = tf.constant(np.zeros((1, 4, 4, 1), np.float32))
    rois = np.array([[[0, 0, 8, 8]]], "float32")          # cells 0..1 at stride 2
    with tf.GradientTape() as tape:
        tape.watch(features)
        total = tf.reduce_sum(ROIAlign(1, spatial_scale=0.5, sampling_ratio=1)([features, rois]))
    gradient = tape.gradient(total, features).numpy()[0, :, :, 0]
    # One sample at the centre (1.5, 1.5): a quarter to each of 4 cells.
    np.testing.assert_allclose(gradient[1:3, 1:3], 0.25)
    assert gradient.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"pooled_size": 0}, "pooled_size must be"),
    ({"spatial_scale": 0}, "spatial_scale must be"),
    ({"sampling_ratio": 0}, "sampling_ratio must be"),
    ({"aligned": "yes"}, "aligned must be"),
])
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"{message}.*Received"):
        ROIAlign(**kwargs)


def test_wrong_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match="rois \\(batch, num_rois, 4\\)"):
        ROIAlign()([np.zeros((1, 4, 4, 2), "float32"), np.zeros((1, 3, 5), "float32")])


def test_layer_checks():
    features, rois = _inputs(1)
    check_layer(ROIAlign, {"pooled_size": 2, "spatial_scale": 0.125, "sampling_ratio": 2},
                input_shape=[features.shape, rois.shape],
                expected_output_shape=(2, 5, 2, 2, 3), input_data=[features, rois])
