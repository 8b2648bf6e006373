"""The peer of the face benchmark: a Siamese network trained on pairs with the
contrastive loss, the method of keras-io's "Image similarity estimation
using a Siamese Network with a contrastive loss" (Mehdi, 2021), written here
for the same backbone, data and evaluator as ours.

The method, as that example has it: for every training image one pair with
an image of the same class (label 1) and one with an image of another class
(label 0), made once; two towers sharing one embedding network; the
Euclidean distance of the two embeddings, batch-normalised, into one sigmoid
unit; the loss

    L = mean((1 - y) * s^2 + y * max(margin - s, 0)^2),   margin = 1,

on that sigmoid output ``s`` (so ``s`` is pushed to 1 for same pairs and to
0 for different ones), RMSprop. What differs from the example: the
embedding network is ours (the same ``cnn`` backbone, pooling and dense
layer, without the unit norm), the distance is a layer instead of a
``Lambda``, and batches hold 48 pairs (96 images, our batch) instead of 16.
Verification scores a pair by ``1 - s``; identification ranks gallery
images by the embedding distance.
"""

import keras
import numpy as np

from apps.cnn.models import build_backbone
from apps.face import verification


class EuclideanDistance(keras.layers.Layer):
    """``sqrt(max(sum((a - b)^2), epsilon))`` per row, shape ``(batch, 1)``."""

    def call(self, first, second):
        squared = keras.ops.sum(keras.ops.square(first - second), axis=1, keepdims=True)
        return keras.ops.sqrt(keras.ops.maximum(squared, keras.config.epsilon()))

    def compute_output_shape(self, first_shape, second_shape):
        return (first_shape[0], 1)


def contrastive_loss(margin=1.0):
    def loss(y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        return keras.ops.mean((1 - y_true) * keras.ops.square(y_pred)
                              + y_true * keras.ops.square(keras.ops.maximum(margin - y_pred, 0)))

    return loss


def build_siamese(config, input_shape):
    """``(tower, siamese)``: the embedding network and the two-input model."""
    preprocessing = [keras.layers.Rescaling(1.0 / 255.0, dtype="float32", name="rescale")]
    backbone = build_backbone(config.backbone, input_shape, width=config.width,
                              preprocessing=preprocessing)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    x = keras.layers.Dense(config.embedding_dim, name="embedding")(x)
    tower = keras.Model(backbone.input, x, name="tower")
    first = keras.Input(input_shape, name="first")
    second = keras.Input(input_shape, name="second")
    distance = EuclideanDistance(name="distance")(tower(first), tower(second))
    normal = keras.layers.BatchNormalization(name="distance_norm")(distance)
    output = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="same")(normal)
    siamese = keras.Model([first, second], output, name="siamese")
    siamese.compile(optimizer=keras.optimizers.RMSprop(config.learning_rate),
                    loss=contrastive_loss(1.0), metrics=["accuracy"])
    return tower, siamese


def make_pairs(labels, seed):
    """keras-io's pairs: per image, one of its class (1) and one of another (0)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    classes = np.array(sorted(by_class))
    first, second, same = [], [], []
    for index, label in enumerate(labels):
        first += [index, index]
        second.append(rng.choice(by_class[label]))
        other = rng.choice(classes[classes != label])
        second.append(rng.choice(by_class[other]))
        same += [1.0, 0.0]
    return np.array(first), np.array(second), np.array(same, "float32")


def pair_dataset(x, labels, batch_size, seed):
    import tensorflow as tf

    first, second, same = make_pairs(labels, seed)
    dataset = tf.data.Dataset.from_tensor_slices(((first, second), same))
    images = tf.constant(x)
    dataset = dataset.shuffle(len(same), seed=seed, reshuffle_each_iteration=True)
    return (dataset.batch(batch_size)
            .map(lambda pair, y: ((tf.gather(images, pair[0]), tf.gather(images, pair[1])), y))
            .prefetch(tf.data.AUTOTUNE))


def evaluate(tower, siamese, data, config):
    """Our evaluator on the peer: dev-calibrated threshold, test pairs, identification."""
    results = {}
    splits = {"dev": (data.x_dev, data.y_dev, 0), "test": (data.x_test, data.y_test, 1)}
    scored = {}
    for split, (x, y, offset) in splits.items():
        first, second, same = verification.make_pairs(y, config.verification_pairs,
                                                      config.seed + offset)
        similarity = siamese.predict([x[first], x[second]], batch_size=256, verbose=0)[:, 0]
        scored[split] = (1.0 - similarity.astype(np.float64), same)
    threshold, _ = verification.calibrate_threshold(*scored["dev"])
    for split, (distances, same) in scored.items():
        results[split] = verification.verification(distances, same, threshold)
    embeddings = tower.predict(data.x_test, batch_size=256, verbose=0)
    results["identification"] = verification.identification(
        embeddings, data.y_test, threshold=np.inf, distance="l2",
        trials=config.identification_trials, seed=config.seed)
    return results
