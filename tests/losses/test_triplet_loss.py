"""losses.triplet_loss and losses.TripletLoss against plain loops over triplets."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime.distribute import make_strategy
from dlsuite.losses import TripletLoss, batch_triplet_loss, pairwise_distances, triplet_loss

MODES = ("all", "hard", "semi_hard")
DISTANCES = ("squared_l2", "l2", "cosine")


# -- plain references: loops over every pair and triplet, float64 ----------------------------


def reference_distance(a, b, distance):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if distance == "squared_l2":
        return float(np.sum((a - b) ** 2))
    if distance == "l2":
        return float(np.sqrt(np.sum((a - b) ** 2)))
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return 1.0 - float(a @ b / norm) if norm > 0 else 1.0


def reference_loss(labels, embeddings, margin, mining, distance):
    n = len(labels)
    d = np.array([[0.0 if i == j else reference_distance(embeddings[i], embeddings[j], distance)
                   for j in range(n)] for i in range(n)])
    positives = {a: [p for p in range(n) if p != a and labels[p] == labels[a]] for a in range(n)}
    negatives = {a: [k for k in range(n) if labels[k] != labels[a]] for a in range(n)}
    if mining == "all":
        losses = [d[a, p] - d[a, k] + margin
                  for a in range(n) for p in positives[a] for k in negatives[a]]
        positive = [value for value in losses if value > 0]
        return float(np.mean(positive)) if positive else 0.0
    if mining == "hard":
        values = [max(0.0, max(d[a, p] for p in positives[a]) - min(d[a, k] for k in negatives[a])
                      + margin)
                  for a in range(n) if positives[a] and negatives[a]]
        return float(np.mean(values)) if values else 0.0
    values = []
    for a in range(n):
        if not negatives[a]:
            continue
        for p in positives[a]:
            farther = [d[a, k] for k in negatives[a] if d[a, k] > d[a, p]]
            negative = min(farther) if farther else max(d[a, k] for k in negatives[a])
            values.append(max(0.0, d[a, p] - negative + margin))
    return float(np.mean(values)) if values else 0.0


def _batch(size=12, classes=3, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size)
    embeddings = rng.normal(size=(size, dim)).astype("float32")
    return labels, embeddings


def _numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


# -- the per-example curriculum form -----------------------------------------------------------


def test_triplet_loss_is_the_curriculum_formula():
    rng = np.random.default_rng(0)
    a, p, n = (rng.normal(size=(6, 4)).astype("float32") for _ in range(3))
    expected = np.maximum(0, ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + 0.3)
    np.testing.assert_allclose(_numpy(triplet_loss(a, p, n, margin=0.3)), expected, rtol=1e-5)
    assert _numpy(triplet_loss(a, a, n, margin=0.0)).max() == 0.0
    with pytest.raises(ValueError, match="Received: anchor.shape=\\(6, 4\\)"):
        triplet_loss(a, p[:, :3], n)
    with pytest.raises(ValueError, match="Received: margin=-1"):
        triplet_loss(a, p, n, margin=-1)


# -- pairwise distances ----------------------------------------------------------------------


@pytest.mark.parametrize("distance", DISTANCES)
def test_pairwise_distances_match_the_reference(distance):
    _, x = _batch(7, dim=3, seed=1)
    expected = [[0.0 if i == j else reference_distance(x[i], x[j], distance) for j in range(7)]
                for i in range(7)]
    np.testing.assert_allclose(_numpy(pairwise_distances(x, distance)), expected, atol=1e-5)


def test_pairwise_distances_refuse_bad_arguments():
    with pytest.raises(ValueError, match="Received: distance='manhattan'"):
        pairwise_distances(np.zeros((2, 2)), "manhattan")
    with pytest.raises(ValueError, match="Received: embeddings.shape=\\(2,\\)"):
        pairwise_distances(np.zeros(2))


# -- online mining against the loops ---------------------------------------------------------


@pytest.mark.parametrize("mining, distance", list(itertools.product(MODES, DISTANCES)))
def test_mining_matches_the_loop_reference(mining, distance):
    for seed in range(3):
        labels, x = _batch(size=10 + seed, classes=3, seed=seed)
        margin = 0.2 if distance != "squared_l2" else 1.0
        expected = reference_loss(labels, x, margin, mining, distance)
        got = float(TripletLoss(margin=margin, mining=mining, distance=distance)(labels, x))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert expected > 0, "a batch of random embeddings has active triplets"


def test_semi_hard_resolves_ties_like_the_dense_rule():
    # l2, anchor 0 (at 0): its positive is at distance 1, its negatives at
    # 1 (a tie: not farther), 3 and 4. The semi-hard negative is 3: not the
    # tie (loss 5) and not the farthest (loss 2). Anchor 1 (at 1): negatives
    # at 2, 2, 3 -> 2.
    x = np.array([[0.0], [1.0], [-1.0], [3.0], [4.0]], "float32")
    labels = np.array([0, 0, 1, 2, 3])
    got = float(TripletLoss(5.0, "semi_hard", "l2")(labels, x))
    np.testing.assert_allclose(got, np.mean([1 - 3 + 5, 1 - 2 + 5]), rtol=1e-6)
    for distance in DISTANCES:
        expected = reference_loss(labels, x, 5.0, "semi_hard", distance)
        np.testing.assert_allclose(float(TripletLoss(5.0, "semi_hard", distance)(labels, x)),
                                   expected, rtol=1e-6)


def test_blocks_mine_separately_and_average():
    labels, x = _batch(size=24, classes=3, seed=5)
    for mining in MODES:
        whole = float(TripletLoss(mining=mining, block_size=8)(labels, x))
        parts = [float(TripletLoss(mining=mining)(labels[i:i + 8], x[i:i + 8]))
                 for i in (0, 8, 16)]
        np.testing.assert_allclose(whole, np.mean(parts), rtol=1e-5)
        # A short last block counts as one block.
        short = float(TripletLoss(mining=mining, block_size=10)(labels, x))
        parts = [float(TripletLoss(mining=mining)(labels[i:i + 10], x[i:i + 10]))
                 for i in (0, 10, 20)]
        np.testing.assert_allclose(short, np.mean(parts), rtol=1e-5)


# -- degenerate batches ----------------------------------------------------------------------


def _loss_and_gradient(loss, labels, x):
    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = loss(labels, variable)
    return float(value), tape.gradient(value, variable).numpy()


@pytest.mark.parametrize("mining, distance", list(itertools.product(MODES, DISTANCES)))
def test_degenerate_batches_are_finite_with_finite_gradients(mining, distance):
    loss = TripletLoss(margin=0.2, mining=mining, distance=distance)
    _, x = _batch(size=6, seed=2)
    one_label = np.zeros(6, "int64")
    all_different = np.arange(6)
    for labels in (one_label, all_different):  # no negatives / no positives: no triplet
        value, gradient = _loss_and_gradient(loss, labels, x)
        assert value == 0.0 and np.all(gradient == 0.0)
    coinciding = np.ones((6, 5), "float32")
    value, gradient = _loss_and_gradient(loss, np.array([0, 0, 1, 1, 2, 2]), coinciding)
    # Every distance is 0: every triplet costs the margin.
    np.testing.assert_allclose(value, 0.2, rtol=1e-6)
    assert np.all(np.isfinite(gradient))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_embeddings_give_a_finite_float32_loss(dtype):
    labels, x = _batch(size=16, seed=3)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    variable = tf.Variable(tf.cast(x, dtype))
    with tf.GradientTape() as tape:
        value = TripletLoss()(labels, variable)
    gradient = tape.gradient(value, variable)
    assert value.dtype == tf.float32 and np.isfinite(float(value))
    assert gradient.dtype == tf.as_dtype(dtype)
    assert np.all(np.isfinite(tf.cast(gradient, tf.float32).numpy()))
    np.testing.assert_allclose(float(value), float(TripletLoss()(labels, x)), atol=2e-2)


# -- the Keras class -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [({"margin": -0.1}, "margin=-0.1"), ({"mining": "easy"}, "mining='easy'"),
     ({"distance": "l1"}, "distance='l1'"), ({"block_size": 1}, "block_size=1"),
     ({"block_size": 4.0}, "block_size=4.0")],
)
def test_bad_arguments_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=f"Received: {message}"):
        TripletLoss(**kwargs)


def test_config_round_trip_and_rank_check():
    loss = TripletLoss(margin=0.5, mining="hard", distance="cosine", block_size=8,
                       reduction="sum", name="faces")
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert isinstance(revived, TripletLoss)
    assert revived.get_config() == loss.get_config()
    labels, x = _batch(size=16)
    assert float(revived(labels, x)) == float(loss(labels, x))
    with pytest.raises(ValueError, match="Received: y_pred.shape=\\(4,\\)"):
        loss(np.zeros(4), np.zeros(4, "float32"))


def _clusters(count=64, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), count // classes)
    centres = rng.normal(size=(classes, 8)) * 2
    x = (centres[labels] + rng.normal(size=(count, 8))).astype("float32")
    return x, labels


def _embedding_model(seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    x = keras.layers.Dense(16, activation="tanh")(inputs)
    x = keras.layers.Dense(4)(x)
    outputs = keras.layers.UnitNormalization()(x)
    return keras.Model(inputs, outputs)


def test_fit_lowers_the_loss_and_separates_identities():
    x, labels = _clusters()
    model = _embedding_model()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=TripletLoss(margin=0.2))
    history = model.fit(x, labels, batch_size=32, epochs=15, verbose=0, shuffle=True)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    distances = _numpy(pairwise_distances(model.predict(x, verbose=0)))
    same = labels[:, None] == labels[None, :]
    assert distances[same].mean() < 0.5 * distances[~same].mean()


def _first_steps(loss, x, labels):
    results = []
    for name in ("default", "mirrored"):
        strategy = make_strategy(name)
        with strategy.scope():
            model = _embedding_model()
            model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
        before = [w.copy() for w in model.get_weights()]
        model.fit(tf.data.Dataset.from_tensors((x, labels)), epochs=1, verbose=0, shuffle=False)
        results.append((strategy.num_replicas_in_sync, before, model.get_weights()))
    return results


def _mixed_halves():
    x, labels = _clusters(count=32, classes=4, seed=1)
    order = np.random.default_rng(2).permutation(32)  # mixed labels in each half
    return x[order], labels[order]


@pytest.mark.parametrize("mining", MODES)
def test_first_step_is_the_same_on_one_and_two_replicas(mining):
    """Two replicas each mining their own half (one block each) take the
    step one replica takes on the whole batch with block_size = the half."""
    x, labels = _mixed_halves()
    loss = TripletLoss(margin=0.5, mining=mining, block_size=16)
    (one, start_one, after_one), (two, start_two, after_two) = _first_steps(loss, x, labels)
    assert (one, two) == (1, 2)
    for a, b in zip(start_one, start_two):
        np.testing.assert_array_equal(a, b)
    assert max(np.abs(a - b).max() for a, b in zip(after_one, start_one)) > 1e-3
    for a, b in zip(after_one, after_two):
        np.testing.assert_allclose(a, b, atol=1e-5)


class _ScalarTripletLoss(TripletLoss):
    """What returning the loss as a 0-d tensor would do."""

    def call(self, y_true, y_pred):
        return batch_triplet_loss(y_true, y_pred, self.margin, self.mining, self.distance,
                                  self.block_size)


def test_a_0d_loss_would_take_a_twice_larger_step_on_two_replicas():
    """Keras leaves a 0-d loss unscaled by 1 / replicas: the (1,) shape matters."""
    x, labels = _mixed_halves()
    (_, start, after_one), (_, _, after_two) = _first_steps(
        _ScalarTripletLoss(margin=0.5, block_size=16), x, labels)
    step_one = after_one[0] - start[0]
    step_two = after_two[0] - start[0]
    np.testing.assert_allclose(step_two, 2 * step_one, rtol=1e-3, atol=1e-6)


def test_without_blocks_the_two_strategies_would_differ():
    """The check above can fail: mining over the whole batch on one replica
    is not what two replicas mining their halves compute."""
    x, labels = _clusters(count=32, classes=4, seed=1)
    whole = float(TripletLoss(margin=0.5)(labels, x))
    halves = np.mean([float(TripletLoss(margin=0.5)(labels[i:i + 16], x[i:i + 16]))
                      for i in (0, 16)])
    assert abs(whole - halves) > 1e-3
