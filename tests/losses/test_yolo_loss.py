"""YOLOLoss: zero for a perfect prediction, finite on empty images, each
term against a hand computation, and the ignore rule."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import YOLOTargetEncoder
from dlsuite.losses import YOLOLoss, yolo_loss

ANCHORS = [(10.0, 10.0), (30.0, 15.0)]
IMAGE, GRID, CLASSES = 64, 4, 3
BOXES = np.array([[[2, 3, 12, 13, 1], [40, 36, 58, 50, 2], [-1, -1, -1, -1, -1]],
                  [[20, 21, 44, 33, 0], [-1, -1, -1, -1, -1], [-1, -1, -1, -1, -1]]], "float32")


def _perfect_prediction(boxes, confidence=40.0):
    """Raw logits whose decoding is exactly the encoded targets."""
    targets = keras.ops.convert_to_numpy(
        YOLOTargetEncoder(ANCHORS, IMAGE, GRID, CLASSES)(boxes))
    raw = np.zeros_like(targets)
    offsets = np.clip(targets[..., 0:2], 1e-6, 1 - 1e-6)
    raw[..., 0:2] = np.log(offsets / (1 - offsets))  # logit
    # Background slots predict tiny boxes, which overlap no true box.
    raw[..., 2:4] = np.where(targets[..., 4:5] > 0, targets[..., 2:4], -20.0)
    raw[..., 4] = np.where(targets[..., 4] > 0, confidence, -confidence)
    raw[..., 5:] = np.where(targets[..., 5:] > 0, confidence, -confidence)
    return raw.reshape(len(boxes), GRID, GRID, len(ANCHORS) * (5 + CLASSES))


@pytest.mark.parametrize("box_loss", ["squared", "ciou"])
def test_perfect_prediction_has_zero_loss(box_loss):
    raw = _perfect_prediction(BOXES)
    loss = keras.ops.convert_to_numpy(yolo_loss(BOXES, raw, ANCHORS, IMAGE, CLASSES,
                                                box_loss=box_loss))
    assert loss.shape == (2,)
    # CIoU's float32 epsilons leave ~1e-6 per box (times box_weight and the size weight).
    tolerance = 1e-5 if box_loss == "squared" else 5e-5
    np.testing.assert_allclose(loss, 0.0, atol=tolerance)
    # Each term alone is hurt by its own mistake.
    worse = raw.reshape(2, -1, 5 + CLASSES).copy()
    slot = np.flatnonzero(keras.ops.convert_to_numpy(
        YOLOTargetEncoder(ANCHORS, IMAGE, GRID, CLASSES)(BOXES))[0, :, 4])[0]
    for channel in (0, 2, 4, 5 + 1):
        changed = worse.copy()
        changed[0, slot, channel] -= 80.0
        value = keras.ops.convert_to_numpy(yolo_loss(
            BOXES, changed.reshape(raw.shape), ANCHORS, IMAGE, CLASSES, box_loss=box_loss))
        assert value[0] > 0.1 and value[1] < tolerance, channel


@pytest.mark.parametrize("box_loss", ["squared", "ciou"])
def test_empty_images_are_finite_and_only_background(box_loss):
    raw = np.random.default_rng(0).normal(size=(2, GRID, GRID, 16)).astype("float32")
    empty = np.full((2, 4, 5), -1.0, "float32")
    loss = keras.ops.convert_to_numpy(yolo_loss(empty, raw, ANCHORS, IMAGE, CLASSES,
                                                box_loss=box_loss))
    objectness = raw.reshape(2, -1, 8)[..., 4]
    expected = np.sum(np.log1p(np.exp(objectness)), axis=-1)  # BCE(0, sigmoid(p))
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    no_rows = keras.ops.convert_to_numpy(
        yolo_loss(np.zeros((2, 0, 5), "float32"), raw, ANCHORS, IMAGE, CLASSES,
                  box_loss=box_loss))
    np.testing.assert_allclose(no_rows, expected, rtol=1e-5)


def test_a_good_box_from_another_slot_is_not_background():
    boxes = np.array([[[16, 16, 26, 26, 0]]], "float32")  # responsible: cell (1, 1), anchor 0
    raw = _perfect_prediction(boxes)
    flat = raw.reshape(1, -1, 5 + CLASSES)
    # Anchor 1 of the same cell predicts the same box, with high objectness.
    other = (1 * GRID + 1) * 2 + 1
    flat[0, other, 0:4] = flat[0, other - 1, 0:4]
    flat[0, other, 2:4] = np.log([10 / 30, 10 / 15])
    flat[0, other, 4] = 5.0
    flat[0, other, 5:] = [40.0, -40.0, -40.0]  # and the right class
    ignored = float(yolo_loss(boxes, flat.reshape(raw.shape), ANCHORS, IMAGE, CLASSES)[0])
    punished = float(yolo_loss(boxes, flat.reshape(raw.shape), ANCHORS, IMAGE, CLASSES,
                               ignore_threshold=1.0)[0])
    assert ignored < 1e-4
    np.testing.assert_allclose(punished, np.log1p(np.exp(5.0)), rtol=1e-4)
    # That slot learns the class of the box it overlaps: an undecided class costs log(C).
    flat[0, other, 5:] = 0.0
    undecided = float(yolo_loss(boxes, flat.reshape(raw.shape), ANCHORS, IMAGE, CLASSES)[0])
    np.testing.assert_allclose(undecided, np.log(CLASSES), rtol=1e-4)


def _box_term(box, shift, box_loss):
    """The loss of a perfect prediction of ``box`` whose centre is moved
    ``shift`` pixels right (objectness and class stay perfect)."""
    boxes = np.array([[box + [0]]], "float32")
    raw = _perfect_prediction(boxes).reshape(1, -1, 5 + CLASSES)
    slot = np.flatnonzero(keras.ops.convert_to_numpy(
        YOLOTargetEncoder(ANCHORS, IMAGE, GRID, CLASSES)(boxes))[0, :, 4])[0]
    offset = 1 / (1 + np.exp(-raw[0, slot, 0])) + shift / (IMAGE / GRID)
    raw[0, slot, 0] = np.log(offset / (1 - offset))
    return float(yolo_loss(boxes, raw.reshape(1, GRID, GRID, -1), ANCHORS, IMAGE, CLASSES,
                           box_loss=box_loss)[0])


def test_ciou_costs_a_centre_error_in_proportion_to_the_box():
    """The same 2-pixel miss: squared offsets cost the same for a thin box as
    for a wide one (cell units), CIoU costs the thin one far more."""
    thin, wide = [20, 18, 24, 30], [14, 18, 30, 30]  # both centred at (22, 24)
    for box_loss, ratio in (("squared", (0.95, 1.05)), ("ciou", (2.0, 100.0))):
        cost = _box_term(thin, 2.0, box_loss) / _box_term(wide, 2.0, box_loss)
        assert ratio[0] < cost < ratio[1], (box_loss, cost)


def test_ciou_gradients_are_finite_for_wild_predictions():
    raw = np.random.default_rng(2).normal(scale=30.0, size=(2, GRID, GRID, 16)).astype("float32")
    raw = tf.Variable(raw)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(yolo_loss(BOXES, raw, ANCHORS, IMAGE, CLASSES, box_loss="ciou"))
    gradient = tape.gradient(loss, raw)
    assert np.isfinite(float(loss)) and np.isfinite(gradient.numpy()).all()
    assert np.abs(gradient.numpy()).sum() > 0


def test_class_and_keras_loss_average_over_the_batch():
    raw = np.random.default_rng(1).normal(size=(2, GRID, GRID, 16)).astype("float32")
    loss = YOLOLoss(ANCHORS, IMAGE, CLASSES, box_loss="ciou")
    per_image = keras.ops.convert_to_numpy(yolo_loss(BOXES, raw, ANCHORS, IMAGE, CLASSES,
                                                     box_loss="ciou"))
    np.testing.assert_allclose(float(loss(BOXES, raw)), per_image.mean(), rtol=1e-5)
    revived = YOLOLoss.from_config(loss.get_config())
    assert revived.get_config() == loss.get_config()
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)).get_config() == loss.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"ignore_threshold": 1.5}, "ignore_threshold"),
    ({"box_weight": -1}, "box_weight"),
    ({"anchors": [(0, 1)]}, "anchors"),
    ({"box_loss": "l1"}, "box_loss"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=f"Received: {message}"):
        YOLOLoss(**{"anchors": ANCHORS, "image_size": IMAGE, "num_classes": CLASSES, **kwargs})
