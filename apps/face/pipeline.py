"""P x K identity batches with tf.data: K examples of each of P identities.

Online triplet mining needs positives and negatives in every batch: random
batches of a set with many identities hold few same-identity pairs. Each
block here is P distinct identities drawn at random, and K images of each,
distinct where the identity has K or more (Hermans et al., "In Defense of the
Triplet Loss", 2017, section 3). A global batch is ``replicas`` blocks laid
out one after the other, each block's K images of an identity contiguous;
tf.distribute hands every replica a contiguous slice of ``P x K`` examples,
so every replica receives whole blocks and mines its own.

Everything runs in the tf.data graph with stateless random ops. Given the
run's epoch variable, block ``i`` of epoch ``e`` is drawn from the seed
``(seed, e * blocks_per_epoch + i)`` alone, so every epoch sees new blocks
and a run resumed at epoch ``e`` sees the blocks an uninterrupted one does;
without it, the draws come from ``tf.data.Dataset.random``, re-drawn each
iteration.
"""

import numpy as np
import tensorflow as tf

from dlsuite.apps.errors import UsageError


def identity_batches(x, y, identities, examples, replicas, steps, seed, epoch=None):
    """A finite ``tf.data.Dataset`` of ``steps`` global batches ``(images, labels)``.

    Args:
        x: images ``(N, ...)`` (any dtype; kept as is).
        y: integer identity labels ``(N,)``.
        identities: P, identities per block (at most the identities in ``y``).
        examples: K, examples per identity.
        replicas: blocks per global batch (the strategy's replica count).
        steps: global batches per epoch (per iteration of the dataset).
        seed: int seed.
        epoch: the run's epoch variable (an int64 ``tf.Variable``, read when
            an epoch's iteration starts), or None.

    Returns:
        Batches of ``replicas * P * K`` examples: block ``r`` is examples
        ``[r * P * K, (r + 1) * P * K)``, identity ``p`` of block ``r``
        the K examples from ``r * P * K + p * K``.
    """
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length. Received: {len(x)} and {len(y)}")
    order = np.argsort(y, kind="stable")
    classes, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
    if identities > len(classes):
        raise UsageError(
            f"identities_per_batch={identities} but the training data has only {len(classes)} "
            f"identities; set identities_per_batch <= {len(classes)}")
    images = tf.constant(np.asarray(x)[order])
    labels = tf.constant(y[order])
    starts = tf.constant(starts, tf.int64)
    counts = tf.constant(counts, tf.int64)
    widest = int(counts.numpy().max())
    base = tf.constant([0, seed], tf.int64)

    def block(draw):
        identity_seed = base + tf.stack([draw, tf.constant(0, tf.int64)])
        example_seed = base + tf.stack([draw, tf.constant(1, tf.int64)])
        keys = tf.random.stateless_uniform([len(classes)], identity_seed)
        chosen = tf.argsort(keys)[:identities]
        chosen_counts = tf.gather(counts, chosen)
        # K distinct positions per identity: the K smallest of random keys
        # over its images (positions past its count never win); an identity
        # with fewer than K images repeats them.
        position_keys = tf.random.stateless_uniform([identities, widest], example_seed)
        valid = tf.range(widest, dtype=tf.int64)[None, :] < chosen_counts[:, None]
        position_keys = tf.where(valid, position_keys, 2.0)
        positions = tf.cast(tf.argsort(position_keys, axis=1)[:, :examples], tf.int64)
        positions = positions % chosen_counts[:, None]
        return tf.reshape(tf.gather(starts, chosen)[:, None] + positions, [-1])

    def gather(indices):
        indices = tf.reshape(indices, [-1])
        return tf.gather(images, indices), tf.gather(labels, indices)

    blocks = steps * replicas
    if epoch is None:
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(blocks)
    else:
        draws = (tf.data.Dataset.from_tensors(0)
                 .flat_map(lambda _: tf.data.Dataset.range(blocks)
                           .map(lambda i: i + tf.cast(epoch.read_value(), tf.int64) * blocks))
                 .apply(tf.data.experimental.assert_cardinality(blocks)))
    return (draws
            .map(block, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(replicas, drop_remainder=True)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
