"""The face benchmark's peer: Hadsell's contrastive loss on distances, and
the best dev epoch kept as for ours."""

import types

import keras
import numpy as np
import pytest

from dlsuite.apps.face import verification
from benchmarks import face_contrastive


def test_the_loss_pulls_same_pairs_in_and_pushes_other_pairs_past_the_margin():
    loss = face_contrastive.contrastive_loss(margin=1.0)
    same = np.array([1, 1, 0, 0], "float32")
    distance = np.array([[0.0], [0.5], [0.25], [1.5]], "float32")
    # y d^2 for same pairs, max(margin - d, 0)^2 for the others.
    expected = np.mean([0.0, 0.25, 0.75**2, 0.0])
    assert float(loss(same, distance)) == pytest.approx(expected)
    # A pair of one identity costs more the farther apart it is; a pair of two
    # identities costs more the closer it is, and nothing past the margin.
    assert float(loss(same[:1], distance[1:2])) > float(loss(same[:1], distance[:1]))
    assert float(loss(same[2:3], distance[2:3])) > float(loss(same[2:3], distance[3:4])) == 0.0


def _data(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(4), 12)
    # Each identity a noisy copy of its own pattern: learnable in a few epochs.
    patterns = rng.normal(size=(4, 6, 6, 1))
    x = (patterns[labels] + 0.8 * rng.normal(size=(len(labels), 6, 6, 1))).astype("float32")
    return x, labels


def test_the_best_dev_epoch_is_scored_on_the_tower_and_restored_after_training():
    keras.utils.set_random_seed(3)
    x, labels = _data()
    dev_x, dev_labels = _data(seed=1)
    inputs = keras.Input((6, 6, 1))
    tower = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)))
    first, second = keras.Input((6, 6, 1)), keras.Input((6, 6, 1))
    siamese = keras.Model([first, second],
                          face_contrastive.EuclideanDistance()(tower(first), tower(second)))
    # A learning rate large enough that the dev AUC does not rise every epoch.
    siamese.compile(keras.optimizers.SGD(0.5), loss=face_contrastive.contrastive_loss(1.0))
    a, b, same = face_contrastive.make_pairs(labels, seed=0)
    data = types.SimpleNamespace(x_dev=dev_x, y_dev=dev_labels)
    config = types.SimpleNamespace(verification_pairs=200, seed=0)
    history = siamese.fit([x[a], x[b]], same, batch_size=16, epochs=12, verbose=0, shuffle=False,
                          callbacks=face_contrastive.best_dev_epoch(tower, data, config))
    aucs = history.history["val_roc_auc"]
    assert len(aucs) == 12
    assert aucs[-1] < max(aucs)  # the last epoch is not the best: restoring shows
    # The monitor embedded with the tower (the siamese model takes pairs), and
    # the weights left are the best epoch's: the same pairs score its AUC.
    pair_a, pair_b, pair_same = verification.make_pairs(dev_labels, 200, 0)
    embeddings = tower.predict(dev_x, verbose=0)
    distances = verification.pair_distances(embeddings[pair_a], embeddings[pair_b], "l2")
    assert verification.roc(distances, pair_same)["auc"] == pytest.approx(max(aucs), abs=1e-9)
