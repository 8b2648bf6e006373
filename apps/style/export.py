"""The style app's SavedModel signatures and ``dlsuite predict``.

``mode=fast`` exports ``stylize(images)``: uint8 ``(batch, H, W, 1 or 3)``
of any size from 16x16 to the run's pixel budget -> uint8 ``(batch, H, W,
3)``. Gray is spread to RGB; sides are reflected up to a multiple of 4 for
the network's two halvings and cropped back after it. ``mode=optimize``
exports ``result()``: the optimised image, uint8 ``(1, H, W, 3)``.
"""

import os

import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.errors import UsageError
from dlsuite.apps.style import images as image_files
from dlsuite.apps.style.models import to_uint8

MIN_SIDE = 16


def make_stylize(model, max_pixels):
    """The ``stylize`` function of a ``FastStylizer``, input checks inside."""

    def stylize(images):
        images = signature_inputs.image_batch(images, signature="stylize", channels=(1, 3),
                                              max_pixels=max_pixels)
        shape = tf.shape(images)
        height, width = shape[1], shape[2]
        small = tf.debugging.assert_greater_equal(
            tf.minimum(height, width), MIN_SIDE,
            message=f"stylize expects images of at least {MIN_SIDE}x{MIN_SIDE} pixels; "
                    "received a smaller side")
        with tf.control_dependencies([small]):
            x = tf.cast(images, tf.float32)
        x = tf.tile(x, [1, 1, 1, 3 // shape[3]])  # gray -> RGB, RGB unchanged
        x = tf.ensure_shape(x, [None, None, None, 3])
        x = tf.pad(x, [[0, 0], [0, (-height) % 4], [0, (-width) % 4], [0, 0]], mode="REFLECT")
        stylized = model.transformer(x, training=False)[:, :height, :width, :]
        return to_uint8(stylized)

    return stylize


def endpoints(model, config, data):
    if config.mode == "optimize":
        return [Endpoint("result", lambda: to_uint8(model.generated.value), [], [])]
    count = batch_size_for_check(config.batch_size)
    # A size training never used: not square, not a multiple of 4.
    height, width = config.image_size - 6, config.image_size + 10
    picks = [data.x_test[index % len(data.x_test)] for index in range(count)]
    example = np.stack([image_files.cover(photo, height, width) for photo in picks])
    spec = tf.TensorSpec(None, tf.uint8, name="images")  # the checks name a wrong rank
    return [Endpoint("stylize", make_stylize(model, config.max_pixels), [spec], [example])]


def output_path(path):
    stem, _ = os.path.splitext(path)
    return f"{stem}_stylized.png"


def predict_files(loaded, config, paths):
    """Stylise each file with the reloaded export; write ``NAME_stylized.png``
    beside it. Returns one line per file."""
    if config.mode != "fast":
        raise UsageError("this run optimised one image (mode=optimize) and has no stylizer; its "
                         "result is result.png in the run directory. Train with --set mode=fast "
                         "to stylise your photos with `dlsuite predict`")
    from PIL import Image

    lines = []
    for path in paths:
        image = image_files.read_image(path, config.max_pixels)
        try:
            stylized = loaded.stylize(tf.constant(image[None])).numpy()[0]
        except tf.errors.InvalidArgumentError as error:
            raise UsageError(f"{path}: {signature_inputs.explain(error)}") from None
        target = output_path(path)
        try:
            Image.fromarray(stylized).save(target)
        except OSError as error:
            raise UsageError(f"cannot write {target}: {error.strerror or error}") from None
        lines.append(f"{path} -> {target} ({stylized.shape[1]}x{stylized.shape[0]})")
    return lines
