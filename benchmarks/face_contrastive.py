"""The peer of the face benchmark: a Siamese network trained on pairs with the
contrastive loss, the method of keras-io's "Image similarity estimation
using a Siamese Network with a contrastive loss" (Mehdi, 2021), written here
for the same backbone, data and evaluator as ours.

The method, as that example has it: for every training image one pair with
an image of the same class (label 1) and one with an image of another class
(label 0), made once; two towers sharing one embedding network; the
Euclidean distance ``d`` of the two embeddings; RMSprop; the contrastive
loss with margin 1.

Where we depart from the example: the loss is Hadsell, Chopra and LeCun's
(2006) on the distance itself,

    L = mean(y * d^2 + (1 - y) * max(margin - d, 0)^2),

where the example puts a batch normalisation and a one-unit sigmoid dense
layer after ``d`` and applies the loss to that output ``s``. With our
backbone that head learned nothing: after 400 steps on MNIST 5k the
training pairs' ROC AUC from ``s`` was 0.47 (loss 0.269 -> 0.259), and 0.49
with the example's own embedding head (batch norm, tanh dense) as well; 15
minutes of it ended at chance (test AUC 0.49). The dense unit's weight
stayed positive (0.50 after the 400 steps), so "same" meant "far", and the towers never left that
saddle. The loss on ``d`` reached training AUC 0.95 and test 0.85 in the
same 400 steps. The rest as ours: the embedding network is the same ``cnn``
backbone, pooling and dense layer (without the unit norm) after the same
augmentation layers (``FaceConfig.augmentation``), batches hold 48
pairs (96 images, our batch) instead of 16, pairs are scored by ``d``, and
the weights kept are those of the epoch with the best dev ROC AUC, as the
benchmark keeps ours (:func:`best_dev_epoch`).
"""

import keras
import numpy as np

from dlsuite.apps.kits.vision import augmentation_layers
from dlsuite.apps.kits.vision.architectures import build_backbone
from dlsuite.apps.face import verification
from dlsuite.apps.face.monitor import VerificationMonitor
from benchmarks.common import NEVER_PATIENT


class EuclideanDistance(keras.layers.Layer):
    """``sqrt(max(sum((a - b)^2), epsilon))`` per row, shape ``(batch, 1)``."""

    def call(self, first, second):
        squared = keras.ops.sum(keras.ops.square(first - second), axis=1, keepdims=True)
        return keras.ops.sqrt(keras.ops.maximum(squared, keras.config.epsilon()))

    def compute_output_shape(self, first_shape, second_shape):
        return (first_shape[0], 1)


def contrastive_loss(margin=1.0):
    """Hadsell et al.'s loss on distances, ``y`` 1 for a pair of one identity."""

    def loss(y_true, distance):
        # (batch,) labels against (batch, 1) distances must not broadcast.
        y_true = keras.ops.reshape(keras.ops.cast(y_true, distance.dtype),
                                   keras.ops.shape(distance))
        return keras.ops.mean(
            y_true * keras.ops.square(distance)
            + (1 - y_true) * keras.ops.square(keras.ops.maximum(margin - distance, 0)))

    return loss


def build_siamese(config, input_shape, margin=1.0):
    """``(tower, siamese)``: the embedding network and the two-input model
    whose output is the pair's Euclidean distance."""
    # The same augmentation as ours, each image of a pair its own draw.
    preprocessing = [*augmentation_layers(config.augmentation(), input_shape[-1]),
                     keras.layers.Rescaling(1.0 / 255.0, dtype="float32", name="rescale")]
    backbone = build_backbone(config.backbone, input_shape, width=config.width,
                              preprocessing=preprocessing)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    x = keras.layers.Dense(config.embedding_dim, name="embedding")(x)
    tower = keras.Model(backbone.input, x, name="tower")
    first = keras.Input(input_shape, name="first")
    second = keras.Input(input_shape, name="second")
    distance = EuclideanDistance(name="distance", dtype="float32")(tower(first), tower(second))
    siamese = keras.Model([first, second], distance, name="siamese")
    siamese.compile(optimizer=keras.optimizers.RMSprop(config.learning_rate),
                    loss=contrastive_loss(margin))
    return tower, siamese


class _TowerMonitor(VerificationMonitor):
    """The app's dev verification monitor, on the tower while ``fit`` trains
    the two-input model."""

    def __init__(self, tower, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tower = tower

    def set_model(self, model):
        super().set_model(self._tower)


def best_dev_epoch(tower, data, config):
    """Callbacks that log the tower's dev ``val_roc_auc`` each epoch (the
    app's monitor and pairs) and, when training ends, restore the weights
    of the best epoch: what ``patience`` does for ours."""
    monitor = _TowerMonitor(tower, data.x_dev, data.y_dev, "l2",
                            pairs=config.verification_pairs, seed=config.seed)
    best = keras.callbacks.EarlyStopping(monitor="val_roc_auc", mode="max", patience=NEVER_PATIENT,
                                         restore_best_weights=True)
    return [monitor, best]


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
        distance = siamese.predict([x[first], x[second]], batch_size=256, verbose=0)[:, 0]
        scored[split] = (distance.astype(np.float64), same)
    threshold, _ = verification.calibrate_threshold(*scored["dev"])
    for split, (distances, same) in scored.items():
        results[split] = verification.verification(distances, same, threshold)
    embeddings = tower.predict(data.x_test, batch_size=256, verbose=0)
    results["identification"] = verification.identification(
        embeddings, data.y_test, threshold=np.inf, distance="l2",
        trials=config.identification_trials, seed=config.seed)
    return results
