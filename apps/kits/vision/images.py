"""Images in and out of the image apps: a user's file, an export's batch."""

import re

import numpy as np
import tensorflow as tf

from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime import signature_inputs


def prepare_images(images, height, width, channels, signature="classify"):
    """uint8 ``(N, h, w, 1 or 3)`` -> float32 ``(N, height, width, channels)``.

    Grey and colour are converted to the model's channels and the images
    resized (bilinear, antialiased: the way ``dlsuite.apps.data`` resized the
    training images). What is no non-empty rank-4 batch of 1- or 3-channel
    images of at most ``signature_inputs.MAX_IMAGE_PIXELS`` fails with a
    message that says what was expected
    (:func:`dlsuite.apps.runtime.signature_inputs.image_batch`).
    """
    images = signature_inputs.image_batch(images, signature=signature)
    given = tf.shape(images)[-1]
    x = tf.cast(images, tf.float32)
    if channels == 1:
        x = tf.cond(tf.equal(given, 3), lambda: tf.image.rgb_to_grayscale(x),
                    lambda: x[..., :1])
    else:
        x = tf.cond(tf.equal(given, 1), lambda: tf.image.grayscale_to_rgb(x[..., :1]),
                    lambda: x[..., :3])
    x = tf.ensure_shape(x, [None, None, None, channels])
    return tf.image.resize(x, (height, width), method="bilinear", antialias=True)


def read_image(path):
    """A file -> uint8 ``(H, W, 1 or 3)``; a clear error when it is no image."""
    try:
        contents = tf.io.read_file(str(path))
        image = tf.io.decode_image(contents, expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        # TensorFlow's message starts with "{{function_node ...}}" and ends
        # with "[Op:DecodeImage]"; keep the sentence between.
        message = re.sub(r"\{\{.*?\}\}|\[Op:.*", "", str(error)).strip() or type(error).__name__
        raise UsageError(
            f"{path} is not an image this app can read (PNG, JPEG, GIF or BMP): {message}"
        ) from None
    if image.dtype != np.uint8:  # 16-bit PNG
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    if image.shape[-1] == 2:  # grey + alpha
        image = image[..., :1]
    elif image.shape[-1] == 4:  # RGB + alpha
        image = image[..., :3]
    return image
