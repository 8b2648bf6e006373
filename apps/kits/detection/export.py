"""The ``detect`` signature every detection app exports, and running it.

Convention (shared by ``yolo`` and later detectors): ``detect(images)``
takes a uint8 batch ``(batch, height, width, 1 or 3)`` of any size and
returns ``boxes (batch, D, 4)`` as ``x1, y1, x2, y2`` in the input image's
pixels, ``scores (batch, D)``, ``classes (batch, D)`` int32, ``count
(batch,)`` int32 (rows past ``count`` are zeros) and ``class_names (batch,
D)``. Resizing, decoding and per-class NMS happen inside the SavedModel.
A detector whose regions are proposed outside the graph (``rcnn`` and
``fast``: selective search) exports ``detect(images, proposals)``.
"""

import pathlib

import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.vision import prepare_images, read_image
from dlsuite.apps.kits.detection import figures
from dlsuite.apps.kits.detection.boxes import non_max_suppression, scale_boxes
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.errors import UsageError


def postprocess(boxes, scores, settings):
    """Per-class NMS with the config's thresholds (``settings``: a detection config)."""
    return non_max_suppression(boxes, scores, max_detections=settings.max_detections,
                               iou_threshold=settings.nms_iou_threshold,
                               score_threshold=settings.score_threshold)


# The most proposals per image ``detect`` takes when it takes them.
MAX_PROPOSALS = 2000


def checked_proposals(proposals, images, max_proposals=MAX_PROPOSALS):
    """``proposals`` float32 ``(batch, P, 4)`` xyxy: finite, one row of boxes
    per image of ``images``, ``1 <= P <= max_proposals``."""
    proposals = signature_inputs.float_batch(proposals, signature="detect", name="proposals",
                                             inner_shape=(None, 4))
    expected = (f"detect expects proposals as float32 (batch, P, 4) boxes x1, y1, x2, y2 in the "
                f"image's pixels, one batch row per image and 1 <= P <= {max_proposals}")
    shape = tf.shape(proposals)
    checks = [tf.debugging.Assert(tf.equal(shape[0], tf.shape(images)[0]),
                                  [f"{expected}; received a batch of", shape[0], "for",
                                   tf.shape(images)[0], "images"]),
              tf.debugging.Assert(tf.logical_and(shape[1] >= 1, shape[1] <= max_proposals),
                                  [f"{expected}; received P =", shape[1]])]
    with tf.control_dependencies(checks):
        return tf.identity(proposals)


def detect_endpoint(raw_detections, config, input_shape, class_names, examples,
                    example_proposals=None):
    """The ``detect`` :class:`Endpoint` of a detector.

    ``raw_detections(float_images)`` maps a float32 batch at the model's
    input size (0..255) to ``(boxes (N, K, 4) xyxy in input pixels, scores
    (N, K, C))`` before NMS (boxes may be ``(N, K, C, 4)``, one per class).
    A detector whose regions come from outside the graph (selective search)
    passes ``example_proposals`` (for ``examples``, in their pixels): then
    ``detect(images, proposals)`` takes ``(batch, P, 4)`` boxes in each
    image's pixels and ``raw_detections(float_images, proposals)`` gets
    them at the input size.
    """
    size_y, size_x, channels = input_shape
    names = tf.constant(list(class_names))

    def run(images, proposals=None):
        images = signature_inputs.image_batch(images, signature="detect")
        shape = tf.shape(images)
        x = prepare_images(images, size_y, size_x, channels)
        if proposals is None:
            boxes, scores = raw_detections(x)
        else:
            proposals = checked_proposals(proposals, images)
            proposals = scale_boxes(proposals, size_x / tf.cast(shape[2], tf.float32),
                                    size_y / tf.cast(shape[1], tf.float32))
            boxes, scores = raw_detections(x, proposals)
        boxes, scores, classes, count = postprocess(boxes, scores, config)
        height = tf.cast(shape[1], tf.float32)
        width = tf.cast(shape[2], tf.float32)
        boxes = scale_boxes(boxes, width / size_x, height / size_y)
        limits = tf.stack([width, height, width, height])
        boxes = tf.clip_by_value(boxes, 0.0, limits)
        valid = tf.sequence_mask(count, tf.shape(scores)[1])
        return {"boxes": boxes * tf.cast(valid, tf.float32)[..., None], "scores": scores,
                "classes": classes, "count": count,
                "class_names": tf.where(valid, tf.gather(names, classes), "")}

    count = batch_size_for_check(config.batch_size)
    images_spec = tf.TensorSpec(None, tf.uint8, name="images")
    example = [np.asarray(examples[:count], np.uint8)]
    if example_proposals is None:
        def detect(images):
            return run(images)

        return Endpoint(name="detect", fn=detect, input_signature=[images_spec], example=example)

    def detect_with_proposals(images, proposals):
        return run(images, proposals)

    return Endpoint(name="detect", fn=detect_with_proposals,
                    input_signature=[images_spec,
                                     tf.TensorSpec([None, None, 4], tf.float32, name="proposals")],
                    example=example + [np.asarray(example_proposals[:count], np.float32)])


def detections_function(raw_detections, config):
    """``raw_detections`` then per-class NMS (``postprocess``) as one
    ``tf.function``: float images at the model's input size (and proposals,
    for a detector that takes them) -> padded ``boxes, scores, classes,
    count``. Build one per model and keep it: every new function traces the
    model again (``DetectionApp.detections_function`` caches it)."""
    @tf.function
    def run(x, *extra):
        boxes, scores = raw_detections(x, *extra)
        return postprocess(boxes, scores, config)

    return run


def detect_arrays(detect, images, batch_size=64, proposals=None):
    """Detections of a numpy batch at the model's input size, per image:
    ``[(boxes (k, 4), scores (k,), classes (k,)), ...]`` after NMS, boxes
    clipped to the image as ``detect`` clips them. ``detect`` is a
    :func:`detections_function`; ``proposals`` (numpy ``(N, P, 4)``), when
    given, go to it beside each batch."""
    height, width = np.asarray(images).shape[1:3]
    limits = np.array([width, height, width, height], np.float32)
    found = []
    for start in range(0, len(images), batch_size):
        chunk = tf.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32))
        extra = () if proposals is None else (
            tf.convert_to_tensor(np.asarray(proposals[start:start + batch_size], np.float32)),)
        boxes, scores, classes, count = (t.numpy() for t in detect(chunk, *extra))
        for index, kept in enumerate(count):
            found.append((np.clip(boxes[index, :kept], 0.0, limits), scores[index, :kept],
                          classes[index, :kept]))
    return found


def output_path(path):
    """Where ``predict`` writes the annotated copy of ``path``."""
    path = pathlib.Path(path)
    return path.with_name(f"{path.stem}.detections.png")


def call_signature(signature, image, path, *extra):
    """``signature`` on one uint8 image (and ``extra`` arrays of one row);
    its check failures as one-line :class:`UsageError`s naming the file."""
    try:
        return signature(tf.constant(image[np.newaxis]),
                         *(tf.constant(value[np.newaxis]) for value in extra))
    except tf.errors.InvalidArgumentError as error:
        raise UsageError(f"{path}: {signature_inputs.explain(error)}") from None


def predict_files(loaded, paths, display_threshold, extra_inputs=None):
    """Run ``detect`` on each file; write ``NAME.detections.png`` beside it
    with the labelled boxes scoring at least ``display_threshold``; return
    printable lines. ``extra_inputs(image)``, when given, returns the
    further arguments of ``detect`` for one image (proposals computed
    outside the graph)."""
    lines = []
    for path in paths:
        image = read_image(path)
        extra = extra_inputs(image) if extra_inputs else ()
        outputs = call_signature(loaded.detect, image, path, *extra)
        count = int(outputs["count"].numpy()[0])
        boxes = outputs["boxes"].numpy()[0, :count]
        scores = outputs["scores"].numpy()[0, :count]
        names = [n.decode() for n in outputs["class_names"].numpy()[0, :count]]
        keep = scores >= display_threshold
        labels = [f"{n} {s:.2f}" for n, s, k in zip(names, scores, keep) if k]
        target = output_path(path)
        figures.save_png(figures.draw_boxes(image, boxes[keep], labels), target)
        lines.append(f"{path}: {int(keep.sum())} object(s) with score >= {display_threshold:g} "
                     f"-> {target}")
        for box, name, score in zip(boxes[keep], np.asarray(names)[keep], scores[keep]):
            x1, y1, x2, y2 = (float(v) for v in box)
            lines.append(f"  {name} {score:.3f} at x1={x1:.1f} y1={y1:.1f} x2={x2:.1f} y2={y2:.1f}")
    return lines
