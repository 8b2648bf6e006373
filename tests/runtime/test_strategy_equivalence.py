"""One replica and two replicas (MirroredStrategy over two logical CPUs)
take the same first step when they see the same global batch."""

import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime import training
from dlsuite.apps.runtime.distribute import make_strategy
from tests.runtime.helpers import (TINY_MLP, build_two_optimizer_model, two_optimizer_data,
                                   weights_of)


def _mlp_first_step(tmp_path, strategy, batch_size):
    # SGD: Adam's first step is ~lr * sign(g), which float noise flips for g ~ 0.
    overrides = TINY_MLP + [f"batch_size={batch_size}", "optimizer=minibatch_gd", "learning_rate=0.5"]
    session = training.start("mlp", overrides, epochs=1,
                             strategy=strategy, precision_name="float32",
                             run_dir=tmp_path / strategy, verbose=0)
    model = training.build(session)
    before = weights_of(model)
    train, _ = training.datasets(session)
    # Pin the runtime pipeline's first global batch: under MirroredStrategy
    # Keras peeks at the dataset once to build, which advances the reshuffle.
    first_batch = tf.data.Dataset.from_tensors(next(iter(train)))
    model.fit(first_batch, epochs=1, verbose=0)
    return session, before, weights_of(model)


def test_mlp_first_step_is_the_same_on_one_and_two_replicas(tmp_path):
    single, start_single, after_single = _mlp_first_step(tmp_path, "default", 16)
    mirrored, start_mirrored, after_mirrored = _mlp_first_step(tmp_path, "mirrored", 8)
    assert mirrored.replicas == 2 and single.replicas == 1
    assert mirrored.batch_size() == (8, 16) and single.batch_size() == (16, 16)
    for a, b in zip(start_single, start_mirrored):
        np.testing.assert_array_equal(a, b)
    moved = max(np.max(np.abs(a - b)) for a, b in zip(after_single, start_single))
    assert moved > 1e-4, "the step must move the weights for the comparison to mean anything"
    for a, b in zip(after_single, after_mirrored):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_two_optimizer_first_step_is_the_same_on_one_and_two_replicas():
    x, y = two_optimizer_data(16)
    results = []
    for name in ("default", "mirrored"):
        strategy = make_strategy(name)
        model = build_two_optimizer_model(strategy)
        before = weights_of(model)
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
        results.append((strategy.num_replicas_in_sync, before, weights_of(model)))
    (one, start_one, after_one), (two, start_two, after_two) = results
    assert (one, two) == (1, 2)
    for a, b in zip(start_one, start_two):
        np.testing.assert_array_equal(a, b)
    assert max(np.max(np.abs(a - b)) for a, b in zip(after_one, start_one)) > 1e-3
    for a, b in zip(after_one, after_two):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_per_replica_mean_would_double_the_step():
    """The check above can fail: a replica-local mean makes a 2x larger step."""
    x, y = two_optimizer_data(16)
    strategy = make_strategy("default")
    model = build_two_optimizer_model(strategy)
    start = weights_of(model)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    step = [a - b for a, b in zip(weights_of(model), start)]

    doubled = build_two_optimizer_model(strategy)
    doubled.loss_factor = 2.0  # what a per-replica mean over 2 replicas amounts to
    doubled.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    step_doubled = [a - b for a, b in zip(weights_of(doubled), start)]
    assert not np.allclose(step[0], step_doubled[0], atol=1e-5)
