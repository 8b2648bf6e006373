"""RunBackup: ``BackupAndRestore`` that a kill in the middle of a save cannot
break, and that knows a chief from a worker.

Keras 3's ``BackupAndRestore`` overwrites ``latest.weights.h5`` in place: a
process killed while it writes leaves a half-written file, and the resumed
run stops with ``OSError: Unable to synchronously open file (bad object
header version number)`` (measured: 8 of 8 ``mlp`` runs killed right after an
epoch's history line). It also has no chief/worker logic: under
``MultiWorkerMirroredStrategy`` every worker writes the same files.

Here each backup is a directory ``epoch-NNNNNN/`` holding the weights (model
and optimizer state, random-generator states included) and ``state.json``
(the number of finished epochs and the weights file's SHA-256). It is
written under a temporary name and renamed into place, the one step POSIX
makes atomic, so a directory named ``epoch-*`` is always complete. The
newest ``keep`` backups are kept. On restore the newest backup whose
checksum and weights load is used; a corrupt or truncated one is reported
and the one before it is tried; if backups exist but none loads, training
stops with an error instead of silently starting from scratch.

With ``backup_dir=None`` the callback only restores (what non-chief workers
do: they restore from the chief's backup on a shared filesystem and write
nothing).
"""

import hashlib
import json
import os
import pathlib
import shutil

import keras

STATE = "state.json"
WEIGHTS = "model.weights.h5"


class CorruptBackup(RuntimeError):
    """Backups exist but none of them can be restored."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path):
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class RunBackup(keras.callbacks.Callback):
    """Back up the training state after every epoch; restore it in ``fit``.

    Args:
        backup_dir: where backups are written; ``None`` writes nothing.
        restore_dir: where backups are read from (default ``backup_dir``).
        keep: how many of the newest backups to keep (>= 2, so there is
            always one to fall back on).
        load_weights: ``f(model, path)`` that loads a weights file; the
            default is ``model.load_weights``. dlsuite passes one that first
            refuses hostile files.
        log: ``f(message)`` for fallbacks and restores (default ``print``).
        refuse: exception types ``load_weights`` raises for a file that must
            stop training rather than fall back (a hostile file).

    Example:

    ```python
    model.fit(x, y, epochs=10, callbacks=[RunBackup("run/backup")])
    # killed at any moment, even while saving; then the same call again:
    model.fit(x, y, epochs=10, callbacks=[RunBackup("run/backup")])
    ```
    """

    def __init__(self, backup_dir, restore_dir=None, keep=2, load_weights=None, log=print,
                 refuse=()):
        super().__init__()
        if backup_dir is None and restore_dir is None:
            raise ValueError("RunBackup needs backup_dir or restore_dir. "
                             "Received: backup_dir=None, restore_dir=None")
        if not isinstance(keep, int) or keep < 2:
            raise ValueError(f"keep must be an int >= 2. Received: keep={keep!r}")
        self.backup_dir = None if backup_dir is None else pathlib.Path(backup_dir)
        self.restore_dir = pathlib.Path(restore_dir) if restore_dir else self.backup_dir
        self.keep = keep
        self.load_weights = load_weights or (lambda model, path: model.load_weights(path))
        self.log = log
        self.refuse = tuple(refuse)
        self.restored_epoch = 0

    # -- reading -------------------------------------------------------------------
    @staticmethod
    def backups(directory):
        """Complete backups in ``directory``, newest first."""
        directory = pathlib.Path(directory)
        if not directory.is_dir():
            return []
        return sorted((p for p in directory.glob("epoch-*") if p.is_dir()), reverse=True)

    @staticmethod
    def read_state(backup):
        """``state.json`` of one backup, checked against its weights file."""
        backup = pathlib.Path(backup)
        try:
            state = json.loads((backup / STATE).read_text())
            epoch, digest = int(state["epoch"]), state["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CorruptBackup(f"{backup / STATE} is unreadable ({type(error).__name__})") from None
        weights = backup / WEIGHTS
        if not weights.is_file() or _sha256(weights) != digest:
            raise CorruptBackup(f"{weights} is missing, truncated or altered "
                                "(its SHA-256 differs from the one recorded)")
        return {**state, "epoch": epoch}

    @classmethod
    def latest_epoch(cls, directory):
        """Finished epochs of the newest intact backup (0 if none)."""
        for backup in cls.backups(directory):
            try:
                return cls.read_state(backup)["epoch"]
            except CorruptBackup:
                continue
        return 0

    def on_train_begin(self, logs=None):
        self.restored_epoch = 0
        found = self.backups(self.restore_dir) if self.restore_dir else []
        if not found:
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        problems = []
        for backup in found:
            try:
                state = self.read_state(backup)
                self.load_weights(self.model, str(backup / WEIGHTS))
            except self.refuse:
                raise
            except Exception as error:  # noqa: BLE001 - every other failure falls back
                problems.append(f"{backup.name}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
                self.log(f"backup {backup} cannot be restored ({problems[-1]}); "
                         "trying the one before it")
                continue
            self.restored_epoch = state["epoch"]
            self.model._initial_epoch = state["epoch"]
            self.log(f"restored {backup} ({state['epoch']} epoch(s) finished)")
            return
        raise CorruptBackup(
            f"none of the {len(found)} backup(s) in {self.restore_dir} can be restored "
            f"({'; '.join(problems)}); refusing to start from scratch silently: delete "
            f"{self.restore_dir} to train from the beginning")

    # -- writing -------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        if self.backup_dir is not None:
            self.save(epoch + 1)

    def save(self, finished_epochs):
        """Write ``epoch-NNNNNN/`` atomically, then drop all but ``keep``."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{finished_epochs:06d}"
        partial = self.backup_dir / f".partial-{name}-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        weights = partial / WEIGHTS
        self.model.save_weights(str(weights))
        with open(weights, "rb+") as handle:
            os.fsync(handle.fileno())
        state = {"epoch": finished_epochs, "sha256": _sha256(weights)}
        with open(partial / STATE, "w") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        final = self.backup_dir / name
        if final.exists():  # the same epoch again (a resumed run's re-run)
            shutil.rmtree(final)
        os.rename(partial, final)
        _fsync_dir(self.backup_dir)
        for old in self.backups(self.backup_dir)[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.backup_dir.glob(".partial-*"):
            if stale != partial:
                shutil.rmtree(stale, ignore_errors=True)
