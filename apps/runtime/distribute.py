"""Choosing the tf.distribute strategy.

``auto`` takes MirroredStrategy when more than one GPU is visible, else the
default strategy. ``mirrored`` mirrors over every GPU, or, with no GPU, over
every logical CPU device (how the tests run it on two logical CPUs).
``multi_worker`` is ``MultiWorkerMirroredStrategy`` over the cluster that
``TF_CONFIG`` names (:mod:`dlsuite.apps.runtime.multi_worker`, which also makes
Keras 3's ``fit`` work under it).
"""

import functools

import tensorflow as tf

from dlsuite.apps.errors import UsageError

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def make_strategy(name):
    if name not in STRATEGIES:
        raise UsageError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        return _multi_worker()
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


@functools.lru_cache(maxsize=None)
def _multi_worker():
    # One per process: TensorFlow's collective runtime is set up once.
    from dlsuite.apps.runtime import multi_worker

    return multi_worker.make_strategy()


def is_multi_worker(strategy):
    """True for a MultiWorkerMirroredStrategy spanning more than this process."""
    return (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode())


def is_chief(strategy):
    """True where this process writes checkpoints, logs, exports and reports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    # Without a "chief" task, worker 0 is the chief (TensorFlow's convention).
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
