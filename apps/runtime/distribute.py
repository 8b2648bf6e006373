"""Choosing the tf.distribute strategy.

``auto`` takes MirroredStrategy when more than one GPU is visible, else the
default strategy. ``mirrored`` mirrors over every GPU, or, with no GPU, over
every logical CPU device (how the tests run it on two logical CPUs).
``multi_worker`` is refused up front: Keras 3's ``model.fit`` fails under
MultiWorkerMirroredStrategy (keras-team/keras#20585).
"""

import functools

import tensorflow as tf

from apps.runtime.errors import UsageError

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def make_strategy(name):
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        raise UsageError(
            "--strategy multi_worker is not supported yet: Keras 3's model.fit fails "
            "under MultiWorkerMirroredStrategy (keras-team/keras#20585); use "
            "--strategy mirrored on one machine"
        )
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return _mirrored(tuple(devices))


@functools.lru_cache(maxsize=None)
def _mirrored(devices):
    # One strategy per device set and process: two MirroredStrategy objects
    # over the same devices can hand out clashing collective instance keys
    # ("Shape mismatch in the collective instance").
    return tf.distribute.MirroredStrategy(list(devices))


def is_chief(strategy):
    """True where this process writes checkpoints, logs, exports and reports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )
