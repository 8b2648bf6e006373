"""tf.data input pipelines built from an app's numpy splits."""

import tensorflow as tf


def make_pipeline(inputs, global_batch_size, shuffle=False, seed=0):
    """Slices -> cache -> (shuffle) -> batch -> prefetch.

    ``inputs`` is what ``App.to_inputs`` returned: an array or a tuple of
    arrays. Shuffling is seeded and differs each epoch.
    """
    dataset = tf.data.Dataset.from_tensor_slices(inputs).cache()
    if shuffle:
        count = len(inputs[0]) if isinstance(inputs, tuple) else len(inputs)
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(global_batch_size).prefetch(tf.data.AUTOTUNE)
