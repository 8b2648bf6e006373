"""RPNHead: its outputs against the convolutions written out in numpy, and
its row order against keras-hub's AnchorGenerator."""

import keras
import keras_hub
import numpy as np
import pytest

from dlsuite.layers import RPNHead
from tests.layer_checks import check_layer


def _conv_same(x, kernel, bias):
    """(H, W, Cin) * (k, k, Cin, Cout) 'same' convolution, written out."""
    size = kernel.shape[0]
    pad = size // 2
    padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    out = np.zeros(x.shape[:2] + (kernel.shape[-1],))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = np.tensordot(padded[i:i + size, j:j + size], kernel, axes=3) + bias
    return out


def test_outputs_equal_the_convolutions_in_anchor_order():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(2, 3, 4, 5)).astype("float32")
    head = RPNHead(anchors_per_location=2, filters=6)
    head.build(features.shape)
    for layer in (head.shared, head.objectness, head.deltas):
        layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3
                           for w in layer.get_weights()])
    got = keras.ops.convert_to_numpy(head(features))
    assert got.shape == (2, 3 * 4 * 2, 5)
    for n in range(2):
        hidden = np.maximum(_conv_same(features[n], *head.shared.get_weights()), 0)
        logits = _conv_same(hidden, *head.objectness.get_weights())
        deltas = _conv_same(hidden, *head.deltas.get_weights())
        row = 0
        for i in range(3):
            for j in range(4):
                for a in range(2):
                    np.testing.assert_allclose(got[n, row, 0], logits[i, j, a], atol=1e-4)
                    np.testing.assert_allclose(got[n, row, 1:], deltas[i, j, 4 * a:4 * a + 4],
                                               atol=1e-4)
                    row += 1


def test_rows_line_up_with_keras_hub_anchors():
    """Row k is the anchor keras-hub's AnchorGenerator lists k-th: location
    by location, the A anchors of a location together."""
    generator = keras_hub.layers.AnchorGenerator("xyxy", min_level=3, max_level=3, num_scales=1,
                                                 aspect_ratios=[0.5, 2.0], anchor_size=2.0)
    anchors = keras.ops.convert_to_numpy(generator(np.zeros((1, 32, 24, 1)))["P3"])
    rows = RPNHead(2, filters=4)(np.zeros((1, 4, 3, 8), "float32")).shape[1]
    assert anchors.shape == (rows, 4)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    np.testing.assert_array_equal(centres[::2], centres[1::2])   # two anchors per location
    np.testing.assert_array_equal(centres[:6:2, 0], [0, 8, 16])  # then along the row
    assert centres[6, 1] == 8                                    # then the next row


def test_starts_from_small_weights():
    head = RPNHead(3, filters=8)
    out = keras.ops.convert_to_numpy(head(np.ones((1, 5, 5, 16), "float32")))
    assert np.abs(out).max() < 0.5


@pytest.mark.parametrize("kwargs, message", [
    ({"anchors_per_location": 0}, "anchors_per_location must be"),
    ({"anchors_per_location": 3, "filters": 2.5}, "filters must be"),
])
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"{message}.*Received"):
        RPNHead(**kwargs)


def test_layer_checks():
    check_layer(RPNHead, {"anchors_per_location": 3, "filters": 4},
                input_shape=(2, 4, 4, 6), expected_output_shape=(2, 48, 5))
