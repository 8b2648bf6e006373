"""``--strategy multi_worker``: ``model.fit`` under TensorFlow's
``MultiWorkerMirroredStrategy``, on Keras 3.

The cluster comes from ``TF_CONFIG``, as on any TensorFlow cluster (one JSON
document per process naming every worker and this process's task);
``dlsuite launch --workers N`` writes it for N local processes.

Keras 3 does not support this strategy (keras-team/keras#20585: the
maintainers' answer is that Keras 3 does not support it). On Keras 3.15 /
TensorFlow 2.21, ``fit`` fails in two places of
``keras/src/backend/tensorflow/trainer.py``, both only when
``_collective_all_reduce_multi_worker(strategy)`` holds:

1. ``TensorFlowTrainer._maybe_symbolic_build`` builds the model from the
   first batch, which it first all-reduces across replicas with
   ``strategy.reduce("MEAN", batch, axis=None)``. Outside a replica context
   that cross-worker reduction of the input batch fails ("Attempt to convert
   a value (PerReplica ...) with an unsupported type"). Only the batch's
   shapes matter to a symbolic build, so here it is built from this worker's
   first local batch instead (:func:`_local_symbolic_build`).
2. ``reduce_per_replica`` reduces every logged value with
   ``strategy.reduce("MEAN", v, axis=0)`` in multi-worker mode: the metric
   results are scalars, and axis 0 of a 0-d tensor fails ("Invalid reduction
   dimension 0 for input with 0 dimensions"). Here scalars are averaged over
   the replicas with ``axis=None`` and everything else goes to Keras's own
   function unchanged (:func:`_reduce_per_replica`).

Nothing else is changed: the step, the loss scaling over
``num_replicas_in_sync``, the gradient all-reduce and the optimizers are
Keras's and TensorFlow's own, so N workers take the step one process takes
on the same global batch (``tests/runtime/test_multi_worker.py``).
:func:`install_fit_support` applies the two replacements once per process,
only on a Keras version they were written against (:data:`TESTED_KERAS`);
on any other it refuses with a message saying so, and
``tests/runtime/test_multi_worker.py`` fails if a Keras upgrade makes
unpatched ``fit`` work (the patch can go) or changes the functions patched.

Keras 3's ``BackupAndRestore`` has no chief/worker logic either (every
worker writes the same files); the runtime's backup
(:class:`dlsuite.callbacks.RunBackup`) writes on the chief only and restores every
worker from the chief's files.
"""

import json
import os

import keras

from dlsuite.apps.errors import UsageError

# Keras versions the two replacements were written against and tested with.
TESTED_KERAS = ("3.15.",)

_installed = False


def keras_is_tested(version=None):
    version = keras.__version__ if version is None else version
    return any(version.startswith(prefix) for prefix in TESTED_KERAS)


def cluster_spec():
    """``TF_CONFIG`` checked: ``(cluster dict, task type, task index)``."""
    text = os.environ.get("TF_CONFIG", "")
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise UsageError(
            "--strategy multi_worker needs TF_CONFIG, the JSON that names every worker and this "
            f"process's task, e.g. TF_CONFIG='{example}'; or let `dlsuite launch --workers N` "
            "start N local workers")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        task_type, task_index = task["type"], int(task["index"])
        members = cluster[task_type]
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"TF_CONFIG is not valid ({type(error).__name__}: {error}); expected "
                         f"JSON like {example}") from None
    if not 0 <= task_index < len(members):
        raise UsageError(f"TF_CONFIG names task {task_type} {task_index}, but its cluster has "
                         f"{len(members)} {task_type} address(es)")
    return cluster, task_type, task_index


def make_strategy():
    """A ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, with ``fit`` support."""
    import tensorflow as tf

    cluster_spec()
    install_fit_support()
    return tf.distribute.MultiWorkerMirroredStrategy()


def install_fit_support(version=None):
    """Apply the two replacements described in the module docstring."""
    global _installed
    version = keras.__version__ if version is None else version
    if not keras_is_tested(version):
        raise UsageError(
            f"--strategy multi_worker patches two functions of Keras's TensorFlow trainer that "
            f"were tested with Keras {', '.join(p + 'x' for p in TESTED_KERAS)}; this is Keras "
            f"{version}, which they may not fit. Install keras~=3.15.0 (the version "
            "dlsuite pins) or train on one machine with --strategy mirrored")
    if _installed:
        return
    from keras.src.backend.tensorflow import trainer

    trainer.reduce_per_replica = _reduce_per_replica(trainer.reduce_per_replica)
    trainer.TensorFlowTrainer._maybe_symbolic_build = _local_symbolic_build(
        trainer.TensorFlowTrainer._maybe_symbolic_build)
    _installed = True


def _is_multi_worker(strategy):
    from keras.src.backend.tensorflow import trainer

    return trainer._collective_all_reduce_multi_worker(strategy)


def _reduce_per_replica(keras_reduce):
    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not _is_multi_worker(strategy):
            return keras_reduce(values, strategy, reduction)
        from keras.src import tree

        def reduce(value):
            rank = getattr(value.shape, "rank", len(value.shape))
            if rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return keras_reduce(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    reduce_per_replica.keras_original = keras_reduce
    return reduce_per_replica


def _local_symbolic_build(keras_build):
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if strategy is None or iterator is None or not _is_multi_worker(strategy):
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        import tensorflow as tf

        for _, _, batches in iterator:
            first = next(batches)
            data_batch = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0], first)
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    _maybe_symbolic_build.keras_original = keras_build
    return _maybe_symbolic_build
