"""The callbacks every run gets, chief and worker alike, in the order they run."""

import os
import pathlib

import keras

from dlsuite.apps.runtime import safe_load
from dlsuite.callbacks import EpochHistoryLog, RunBackup, StepProgbarLogger


class EpochCounter(keras.callbacks.Callback):
    """Set ``variable`` to the epoch about to start, for the epoch-seeded
    shuffle of :func:`dlsuite.apps.runtime.pipeline.make_pipeline`."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class PromoteFile(keras.callbacks.Callback):
    """Rename ``partial`` over ``final`` after the callback that writes it.

    ``ModelCheckpoint`` saves in place; pointed at ``partial`` and followed by
    this, a kill during its save leaves the previous ``final`` whole. A stale
    ``partial`` from a killed run is removed when training starts.
    """

    def __init__(self, partial, final):
        super().__init__()
        self.partial, self.final = pathlib.Path(partial), pathlib.Path(final)

    def on_train_begin(self, logs=None):
        self.partial.unlink(missing_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.partial.exists():
            with open(self.partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(self.partial, self.final)


def best_so_far(rows, monitor, mode):
    """The best ``monitor`` value in a run's history (None if absent)."""
    values = [row[monitor] for row in rows if monitor in row]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


def standard_callbacks(session, has_dev, app_callbacks=(), log=print, verbose=1):
    """The callbacks of one ``fit``: what every run gets plus the app's own.

    The app's callbacks run after the NaN check and before the loggers, so
    metrics they add to the epoch logs reach TensorBoard and the history.
    Every worker of a multi-worker run gets the same list, so that they make
    the same collective calls; only the chief's write files a user reads
    (history, TensorBoard, best model, backups). Every worker restores from
    the chief's backup.
    """
    app, config, run = session.app, session.config, session.run
    monitor = app.monitor if has_dev else app.monitor.removeprefix("val_")
    # A worker restores from the chief's backup only when the run resumes: on
    # a fresh start the chief may still be clearing an old run (--overwrite).
    backup = None
    if session.chief or session.resuming:
        backup = RunBackup(run.backup if session.chief else None,
                           restore_dir=session.chief_run.backup,
                           load_weights=safe_load.load_weights, log=log,
                           refuse=(safe_load.RefusedFile,))
    found = [
        EpochCounter(session.epoch),
        # Raise on NaN before anything saves the broken state.
        keras.callbacks.TerminateOnNaN(raise_error=True),
        *app_callbacks,
    ]
    if session.chief:
        partial = run.path / ".best.partial.keras"
        found += [
            EpochHistoryLog(run.history),
            backup,
            keras.callbacks.TensorBoard(str(run.tb)),
            keras.callbacks.ModelCheckpoint(
                str(partial), monitor=monitor, mode=app.monitor_mode, save_best_only=True,
                initial_value_threshold=best_so_far(run.read_history(), monitor,
                                                    app.monitor_mode)),
            PromoteFile(partial, run.best),
        ]
    elif backup is not None:
        found.append(backup)
    if has_dev and config.patience > 0:
        found.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=app.monitor_mode, patience=config.patience,
            restore_best_weights=True,
        ))
    if verbose:
        found.append(StepProgbarLogger())
    return found
