"""YOLOHead: the decoding formula against a numpy reference."""

import keras
import numpy as np
import pytest

from dlsuite.layers import YOLOHead
from tests.layer_checks import check_layer

ANCHORS = [(10.0, 12.0), (30.0, 20.0)]


def _reference(raw, image, anchors, classes):
    """The YOLOv2 decoding, written out cell by cell."""
    rows, cols = raw.shape[1:3]
    raw = raw.reshape(raw.shape[0], rows, cols, len(anchors), 5 + classes)
    out = []
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    for n in range(raw.shape[0]):
        rows_out = []
        for r in range(rows):
            for c in range(cols):
                for a, (aw, ah) in enumerate(anchors):
                    p = raw[n, r, c, a]
                    cx = (c + sigmoid(p[0])) * image / cols
                    cy = (r + sigmoid(p[1])) * image / rows
                    w, h = aw * np.exp(p[2]), ah * np.exp(p[3])
                    probabilities = np.exp(p[5:] - p[5:].max())
                    probabilities /= probabilities.sum()
                    rows_out.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                                     *(sigmoid(p[4]) * probabilities)])
        out.append(rows_out)
    return np.asarray(out, "float32")


def test_decoding_equals_the_formula():
    raw = np.random.default_rng(0).normal(size=(2, 3, 3, 2 * (5 + 4))).astype("float32")
    decoded = keras.ops.convert_to_numpy(YOLOHead(ANCHORS, 48, 4)(raw))
    np.testing.assert_allclose(decoded, _reference(raw, 48, ANCHORS, 4), rtol=1e-5, atol=1e-4)
    # Scores are objectness x class probability: they sum to the objectness.
    assert np.all(decoded[..., 4:].sum(-1) < 1.0)


def test_wrong_channels_are_a_clear_error():
    with pytest.raises(ValueError, match="expects \\(batch, rows, cols, 18\\)"):
        YOLOHead(ANCHORS, 48, 4)(np.zeros((1, 3, 3, 17), "float32"))


def test_layer_checks():
    check_layer(YOLOHead, {"anchors": ANCHORS, "image_size": 32, "num_classes": 3},
                input_shape=(2, 2, 2, 16), expected_output_shape=(2, 8, 7))
