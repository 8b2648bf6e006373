"""A crashed run resumes from its backup with a gapless history; a NaN loss
stops training with a clear error and keeps the last good backup."""

import keras
import numpy as np
import pytest

from dlsuite.apps.runtime import training
from dlsuite.apps.errors import UsageError
from tests.runtime.helpers import TINY_MLP, CrashAt


def test_run_killed_mid_epoch_resumes_to_the_requested_epochs(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match="injected crash"):
        training.train("mlp", TINY_MLP, epochs=4, strategy="default", precision_name="float32",
                       run_dir=run_dir, extra_callbacks=[CrashAt(epoch=2, batch=3)], verbose=0)
    finished = [row["epoch"] for row in training.RunDir(run_dir).read_history()]
    assert finished == [0, 1], "epochs 0 and 1 finished before the crash in epoch 2"
    assert (run_dir / "backup").is_dir()

    session, metrics = training.train("mlp", epochs=None, resume=run_dir, verbose=0)
    rows = session.run.read_history()
    assert [row["epoch"] for row in rows] == [0, 1, 2, 3]
    times = [row["time"] for row in rows]
    assert times == sorted(times), "wall-clock time continues across the resume"
    assert metrics["evaluation"]["test"]["accuracy"] > 0.3
    assert (run_dir / "export" / "saved_model.pb").exists()


def test_resume_can_extend_a_finished_run(tmp_path):
    run_dir = tmp_path / "run"
    training.train("mlp", TINY_MLP, epochs=2, strategy="default", precision_name="float32",
                   run_dir=run_dir, verbose=0)
    session, _ = training.train("mlp", epochs=3, resume=run_dir, verbose=0)
    assert [row["epoch"] for row in session.run.read_history()] == [0, 1, 2]
    assert session.config.epochs == 3


def test_resume_refuses_a_directory_that_is_no_run(tmp_path):
    with pytest.raises(UsageError, match="not a dlsuite run"):
        training.train("mlp", resume=tmp_path, verbose=0)
    with pytest.raises(UsageError, match="not a directory"):
        training.train("mlp", resume=tmp_path / "missing", verbose=0)


class PoisonWeights(keras.callbacks.Callback):
    """Turn one kernel to NaN at the start of an epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            kernel = self.model.get_layer("dense_0").kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_backup(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(training.TrainingDiverged, match=r"NaN or Inf loss.*last good state \(epoch 2\)"):
        training.train("mlp", TINY_MLP, epochs=5, strategy="default", precision_name="float32",
                       run_dir=run_dir, extra_callbacks=[PoisonWeights(epoch=2)], verbose=0)
    # The backup still holds the finite weights of the last finished epoch.
    session = training.reopen(run_dir, verbose=0)
    model = training.build(session)
    model.optimizer.build(model.trainable_variables)  # the backup holds its state too
    model.load_weights(sorted((run_dir / "backup").glob("epoch-*"))[-1] / "model.weights.h5")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    # ...and the run can be resumed from it.
    resumed, _ = training.train("mlp", resume=run_dir, verbose=0)
    assert [row["epoch"] for row in resumed.run.read_history()] == [0, 1, 2, 3, 4]


def test_resume_if_exists_reruns_the_same_command_idempotently(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        training.train("mlp", TINY_MLP, epochs=3, strategy="default", precision_name="float32",
                       run_dir=run_dir, extra_callbacks=[CrashAt(epoch=1, batch=2)],
                       resume_if_exists=True, verbose=0)
    # What a cluster manager does after a failure: the very same command.
    session, _ = training.train("mlp", TINY_MLP, epochs=3, strategy="default",
                                precision_name="float32", run_dir=run_dir,
                                resume_if_exists=True, verbose=0)
    assert [row["epoch"] for row in session.run.read_history()] == [0, 1, 2]
    with pytest.raises(UsageError, match="holds another run"):
        training.train("mlp", TINY_MLP + ["hidden_units=4"], epochs=3, run_dir=run_dir,
                       resume_if_exists=True, verbose=0)
