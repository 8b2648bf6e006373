"""The face app's SavedModel signatures: embed, verify, identify, who_is_it.

Every signature takes uint8 images of any height and width with 1 or 3
channels (converted and resized inside the graph, as the ``cnn`` export
does) and checks what it receives with :mod:`dlsuite.apps.runtime.signature_inputs`.
The calibrated threshold and the distance are constants of the graph, so a
server needs nothing else::

    loaded = tf.saved_model.load("runs/face/<stamp>/export")
    loaded.verify(image_a, image_b)   # {"distance", "same", "threshold"}
"""

import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.vision import prepare_images
from dlsuite.apps.face.verification import UNKNOWN
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint

# The most gallery entries ``identify`` takes in one call.
MAX_GALLERY = 100_000


def _pair_distance(first, second, distance):
    if distance == "cosine":
        first = tf.math.l2_normalize(first, axis=1)
        second = tf.math.l2_normalize(second, axis=1)
        return 1.0 - tf.reduce_sum(first * second, axis=1)
    squared = tf.reduce_sum(tf.square(first - second), axis=1)
    return tf.sqrt(squared) if distance == "l2" else squared


def _cross_distances(queries, gallery, distance):
    if distance == "cosine":
        queries = tf.math.l2_normalize(queries, axis=1)
        gallery = tf.math.l2_normalize(gallery, axis=1)
        return 1.0 - tf.matmul(queries, gallery, transpose_b=True)
    squared = (tf.reduce_sum(tf.square(queries), 1)[:, None]
               - 2.0 * tf.matmul(queries, gallery, transpose_b=True)
               + tf.reduce_sum(tf.square(gallery), 1)[None, :])
    squared = tf.maximum(squared, 0.0)
    return tf.sqrt(squared) if distance == "l2" else squared


def face_endpoints(model, input_shape, threshold, distance, gallery, examples):
    """The ``Endpoint``s of a trained embedding model.

    Args:
        model: images (0..255 floats) -> unit embeddings.
        input_shape: the model's ``(height, width, channels)``.
        threshold: the calibrated verification threshold.
        distance: the loss's distance (``squared_l2``, ``l2``, ``cosine``).
        gallery: ``(embeddings (g, d), names (g,))`` of ``who_is_it``'s
            built-in one-shot gallery.
        examples: uint8 images for the export check (a batch size other
            than training's).
    """
    height, width, channels = input_shape
    threshold = float(threshold)
    gallery_embeddings = tf.constant(np.asarray(gallery[0], np.float32))
    gallery_names = tf.constant([str(name) for name in gallery[1]])
    dimension = int(gallery_embeddings.shape[1])

    def embed_images(images, signature, name="images"):
        images = signature_inputs.image_batch(images, signature=signature, name=name)
        return tf.cast(model(prepare_images(images, height, width, channels), training=False),
                       tf.float32)

    def nearest(queries, embeddings, names):
        distances = _cross_distances(queries, embeddings, distance)
        index = tf.argmin(distances, axis=1, output_type=tf.int32)
        best = tf.reduce_min(distances, axis=1)
        known = best <= threshold
        nearest_name = tf.gather(names, index)
        return {"name": tf.where(known, nearest_name, tf.constant(UNKNOWN)),
                "nearest_name": nearest_name, "distance": best, "index": index, "known": known}

    def embed(images):
        return {"embeddings": embed_images(images, "embed")}

    def verify(image_a, image_b):
        image_a = signature_inputs.image_batch(image_a, signature="verify", name="image_a")
        image_b = signature_inputs.image_batch(image_b, signature="verify", name="image_b")
        size_a, size_b = tf.shape(image_a)[0], tf.shape(image_b)[0]
        check = tf.debugging.Assert(tf.equal(size_a, size_b), [
            "verify expects image_a and image_b with the same batch size; received", size_a,
            "and", size_b])
        with tf.control_dependencies([check]):
            first = embed_images(image_a, "verify", "image_a")
            second = embed_images(image_b, "verify", "image_b")
            distances = _pair_distance(first, second, distance)
        return {"distance": distances, "same": distances <= threshold,
                "threshold": tf.fill(tf.shape(distances), threshold)}

    def identify(images, gallery_embeddings, gallery_names):
        embeddings = signature_inputs.float_batch(
            gallery_embeddings, signature="identify", name="gallery_embeddings",
            inner_shape=(dimension,), max_batch=MAX_GALLERY)
        names = signature_inputs.string_batch(gallery_names, signature="identify",
                                              name="gallery_names")
        count, named = tf.shape(embeddings)[0], tf.shape(names)[0]
        check = tf.debugging.Assert(tf.equal(count, named), [
            "identify expects one gallery name per gallery embedding; received", count,
            "embeddings and", named, "names"])
        with tf.control_dependencies([check]):
            return nearest(embed_images(images, "identify"), embeddings, names)

    def who_is_it(images):
        return nearest(embed_images(images, "who_is_it"), gallery_embeddings, gallery_names)

    examples = np.asarray(examples, np.uint8)
    half = len(examples) // 2
    image = tf.TensorSpec(None, tf.uint8, name="images")
    return [
        Endpoint("embed", embed, [image], [examples]),
        Endpoint("verify", verify, [tf.TensorSpec(None, tf.uint8, name="image_a"),
                                    tf.TensorSpec(None, tf.uint8, name="image_b")],
                 [examples[:half], examples[half:2 * half]]),
        Endpoint("identify", identify,
                 [image, tf.TensorSpec(None, tf.float32, name="gallery_embeddings"),
                  tf.TensorSpec(None, tf.string, name="gallery_names")],
                 [examples, np.asarray(gallery[0], np.float32),
                  np.asarray([str(name) for name in gallery[1]], object)]),
        Endpoint("who_is_it", who_is_it, [image], [examples]),
    ]
