"""YOLOTargetEncoder: slot assignment in every case, and the round trip
through YOLOHead's decoding back to the true boxes."""

import keras
import numpy as np
import pytest

from dlsuite.layers import YOLOHead, YOLOTargetEncoder
from tests.layer_checks import check_layer

ANCHORS = [(10.0, 10.0), (30.0, 15.0), (15.0, 30.0)]
IMAGE = 64
GRID = 4  # stride 16
CLASSES = 3


def _encode(boxes):
    encoder = YOLOTargetEncoder(ANCHORS, IMAGE, GRID, CLASSES)
    boxes = np.asarray(boxes, "float32")[None]
    slot, placed = encoder.assign(keras.ops.convert_to_tensor(boxes))
    targets = keras.ops.convert_to_numpy(encoder(boxes))[0]
    return targets, keras.ops.convert_to_numpy(slot)[0], keras.ops.convert_to_numpy(placed)[0]


def _decode(targets):
    """Decode the targets' boxes as YOLOHead decodes predictions."""
    head = YOLOHead(ANCHORS, IMAGE, CLASSES)
    boxes = head.boxes_from_offsets(targets[None, :, 0:2], targets[None, :, 2:4], (GRID, GRID))
    return keras.ops.convert_to_numpy(boxes)[0]


def _slot(row, col, anchor):
    return (row * GRID + col) * len(ANCHORS) + anchor


CASES = {
    # name: (boxes, expected slot of each box, -1 = dropped)
    "one box, its best anchor": ([[2, 3, 12, 13, 1]], [_slot(0, 0, 0)]),
    "boxes in different cells": ([[2, 3, 12, 13, 1], [40, 40, 54, 70, 2]],
                                 [_slot(0, 0, 0), _slot(3, 2, 2)]),
    "one cell, different best anchors": ([[0, 0, 12, 12, 0], [0, 4, 28, 20, 2]],
                                         [_slot(0, 0, 0), _slot(0, 0, 1)]),
    "one cell, same best anchor: the second takes its next best":
        ([[18, 18, 28, 28, 0], [19, 19, 29, 29, 1]], [_slot(1, 1, 0), _slot(1, 1, 1)]),
    "more boxes in a cell than anchors: the last is dropped":
        ([[18, 18, 28, 28, 0], [19, 19, 29, 29, 1], [20, 18, 30, 28, 2], [18, 20, 28, 30, 0]],
         [_slot(1, 1, 0), _slot(1, 1, 1), _slot(1, 1, 2), -1]),
    # 16 x 16: shape IoU 0.39 with the 10 x 10 anchor, 0.52 with 30 x 15.
    "centre on a cell boundary goes to the next cell": ([[8, 8, 24, 24, 0]], [_slot(1, 1, 1)]),
    "padding rows and a zero-area box are ignored":
        ([[-1, -1, -1, -1, -1], [5, 5, 5, 20, 1], [2, 3, 12, 13, 2]], [-1, -1, _slot(0, 0, 0)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_assignment_and_round_trip(name):
    boxes, expected = CASES[name]
    targets, slot, placed = _encode(boxes)
    got = [int(s) if p else -1 for s, p in zip(slot, placed)]
    assert got == expected
    decoded = _decode(targets)
    kept = [i for i, s in enumerate(expected) if s >= 0]
    # Exactly the placed boxes' slots are objects, with their one-hot class.
    np.testing.assert_array_equal(np.flatnonzero(targets[:, 4]), sorted(expected[i] for i in kept))
    for index in kept:
        row = targets[expected[index]]
        np.testing.assert_allclose(decoded[expected[index]], boxes[index][:4], atol=1e-4)
        assert row[5:].argmax() == boxes[index][4] and row[5:].sum() == 1
        assert 0.0 <= row[0] < 1.0 and 0.0 <= row[1] < 1.0
    # Every background slot is all zeros.
    background = np.ones(len(targets), bool)
    background[[expected[i] for i in kept]] = False
    assert not targets[background].any()


def test_empty_image_gives_all_background():
    targets, _, placed = _encode(np.full((5, 5), -1.0))
    assert not placed.any() and not targets.any()
    encoder = YOLOTargetEncoder(ANCHORS, IMAGE, GRID, CLASSES)
    assert encoder(np.zeros((2, 0, 5), "float32")).shape == (2, GRID * GRID * 3, 5 + CLASSES)


def test_rectangular_grid_and_image():
    encoder = YOLOTargetEncoder([(8, 8)], image_size=(32, 64), grid_size=(2, 4), num_classes=1)
    targets = keras.ops.convert_to_numpy(encoder(np.array([[[50, 20, 58, 28, 0]]], "float32")))
    # centre (54, 24): col 54 // 16 = 3, row 24 // 16 = 1 -> slot 7
    assert np.flatnonzero(targets[0, :, 4]).tolist() == [7]
    np.testing.assert_allclose(targets[0, 7, :4], [54 / 16 - 3, 24 / 16 - 1, 0, 0], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"anchors": []}, "anchors"),
    ({"anchors": [(4, 0)]}, "anchors"),
    ({"image_size": 0}, "image_size"),
    ({"grid_size": (2, 2, 2)}, "grid_size"),
    ({"num_classes": 0}, "num_classes"),
])
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"anchors": ANCHORS, "image_size": IMAGE, "grid_size": GRID,
                 "num_classes": CLASSES, **kwargs}
    with pytest.raises(ValueError, match=f"Received: {message}"):
        YOLOTargetEncoder(**arguments)


def test_layer_checks():
    boxes = np.array([[[2, 3, 12, 13, 1], [40, 40, 54, 60, 2]],
                      [[20, 20, 40, 30, 0], [-1, -1, -1, -1, -1]]], "float32")
    # Targets are not differentiable in the boxes (floor, argmax): no fit step.
    check_layer(YOLOTargetEncoder,
                {"anchors": ANCHORS, "image_size": IMAGE, "grid_size": GRID,
                 "num_classes": CLASSES},
                input_shape=(2, 2, 5), expected_output_shape=(2, GRID * GRID * 3, 5 + CLASSES),
                input_data=boxes, run_training_check=False)
