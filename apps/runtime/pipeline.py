"""tf.data input pipelines built from an app's numpy splits."""

import math

import tensorflow as tf


def _count(inputs):
    return len(tf.nest.flatten(inputs)[0])


def make_pipeline(inputs, global_batch_size, shuffle=False, seed=0, epoch=None):
    """Slices -> (shuffle) -> batch -> prefetch.

    ``inputs`` is what ``App.to_inputs`` returned: an array or a tuple of
    arrays. Without ``shuffle`` the order is the arrays' own, cached.

    With ``shuffle`` every epoch has its own seeded order. Given ``epoch``,
    a scalar int64 ``tf.Variable`` that the runtime sets at the start of each
    epoch (:class:`apps.runtime.run_callbacks.EpochCounter`), the order is a
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


def _epoch_seeded(inputs, count, global_batch_size, seed, epoch):
    tensors = tf.nest.map_structure(tf.constant, inputs)

    def permutation(_):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64),
            seed=tf.stack([tf.constant(seed, tf.int64), epoch.read_value()]))
        return tf.data.Dataset.from_tensor_slices(order)

    def gather(indices):
        return tf.nest.map_structure(lambda tensor: tf.gather(tensor, indices), tensors)

    batches = math.ceil(count / global_batch_size)
    dataset = (tf.data.Dataset.from_tensors(0).flat_map(permutation)
               .batch(global_batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                                             deterministic=True))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(
        tf.data.AUTOTUNE)
