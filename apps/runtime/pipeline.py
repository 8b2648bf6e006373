"""tf.data input pipelines built from an app's numpy splits."""

import tensorflow as tf


def _count(inputs):
    return len(tf.nest.flatten(inputs)[0])


def make_pipeline(inputs, global_batch_size, shuffle=False, seed=0, epoch=None):
    """Slices -> (shuffle) -> batch -> prefetch.

    ``inputs`` is what ``App.to_inputs`` returned: an array or a tuple of
    arrays. Without ``shuffle`` the order is the arrays' own, cached.

    With ``shuffle`` every epoch has its own seeded order. Given ``epoch``,
    a scalar int64 ``tf.Variable`` that the runtime sets at the start of each
    epoch (:class:`dlsuite.apps.runtime.run_callbacks.EpochCounter`), the order is a
    function of ``(seed, epoch)`` alone: a run resumed at epoch k sees
    exactly the batches an uninterrupted run sees there, which is what makes
    a kill-and-resume end on the same weights. (``Dataset.shuffle``'s
    reshuffling would restart its sequence of orders at the resume.) Without
    ``epoch`` it reshuffles each iteration with ``Dataset.shuffle``.
    """
    count = _count(inputs)
    if shuffle and epoch is not None:
        return _epoch_seeded(inputs, count, global_batch_size, seed, epoch)
    dataset = tf.data.Dataset.from_tensor_slices(inputs).cache()
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(global_batch_size).prefetch(tf.data.AUTOTUNE)


def shuffled_indices(count, seed, epoch=None):
    """A dataset of ``0 .. count - 1`` in a seeded order that changes each epoch.

    With ``epoch`` (the run's epoch variable, read when an epoch's iteration
    starts) the order is a function of ``(seed, epoch)`` alone, so a resumed
    run repeats an uninterrupted one's orders; without it,
    ``Dataset.shuffle`` reshuffles each iteration. For apps that build their
    examples from indices (windows of a text).
    """
    if epoch is None:
        return tf.data.Dataset.range(count).shuffle(count, seed=seed,
                                                    reshuffle_each_iteration=True)

    def permutation(_):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64),
            seed=tf.stack([tf.constant(seed, tf.int64), epoch.read_value()]))
        return tf.data.Dataset.from_tensor_slices(order)

    return (tf.data.Dataset.from_tensors(0).flat_map(permutation)
            .apply(tf.data.experimental.assert_cardinality(count)))


def _epoch_seeded(inputs, count, global_batch_size, seed, epoch):
    tensors = tf.nest.map_structure(tf.constant, inputs)

    def gather(indices):
        return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), tensors)

    return (shuffled_indices(count, seed, epoch).batch(global_batch_size)
            .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
