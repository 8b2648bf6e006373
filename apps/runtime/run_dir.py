"""The run directory: ``runs/<app>/<timestamp>/``.

Layout::

    config.json     app, resolved config, strategy, precision, data source and split
    tb/             TensorBoard logs
    backup/         BackupAndRestore state (resume after a crash)
    history.jsonl   one line per finished epoch, gapless across resumes
    best.keras      the best model on the dev set
    export/         SavedModel with named signatures
    metrics.json    final metrics
    report.md       the report, with its .png figures beside it
    .lock           held by the one process writing the run

Every file a later command reads is written atomically
(:mod:`dlsuite.apps.runtime.atomic`). A second ``dlsuite`` process that would write a
run another one is writing is refused (:meth:`RunDir.locked`).
"""

import contextlib
import datetime
import fcntl
import json
import os
import pathlib
import shutil
import tempfile

from dlsuite.apps.runtime import atomic
from dlsuite.apps.errors import UsageError

RECORD = "config.json"


class RunDir:
    def __init__(self, path, temporary=False):
        self.path = pathlib.Path(path)
        # A non-chief worker's scratch directory, removed when training ends.
        self.temporary = temporary

    # Named parts of the run.
    tb = property(lambda self: self.path / "tb")
    backup = property(lambda self: self.path / "backup")
    history = property(lambda self: self.path / "history.jsonl")
    best = property(lambda self: self.path / "best.keras")
    export = property(lambda self: self.path / "export")
    metrics = property(lambda self: self.path / "metrics.json")
    report = property(lambda self: self.path / "report.md")
    record_path = property(lambda self: self.path / RECORD)

    @classmethod
    def create(cls, app_name, path=None, overwrite=False, root="runs"):
        """Make a new run directory; refuse to reuse a run unless ``overwrite``."""
        if path is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            path = pathlib.Path(root) / app_name / stamp
        path = pathlib.Path(path)
        if (path / RECORD).exists():
            if not overwrite:
                raise UsageError(
                    f"{path} already holds a run; continue it with --resume {path}, "
                    "or pass --overwrite, or choose another --run-dir"
                )
            with cls(path).locked():  # refuses a run another process is writing
                pass
            shutil.rmtree(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as error:
            raise UsageError(
                f"cannot write the run directory {path}: {error.strerror}; "
                "choose a writable --run-dir"
            ) from None
        return cls(path)

    @classmethod
    def scratch(cls, app_name):
        """A temporary run directory (a non-chief worker writes only there)."""
        return cls(tempfile.mkdtemp(prefix=f"dlsuite-{app_name}-worker-"), temporary=True)

    def remove_if_temporary(self):
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)

    @contextlib.contextmanager
    def locked(self):
        """Hold the run's lock while writing it; refuse if another process holds it.

        An advisory ``flock`` on ``.lock``: the kernel drops it when its
        process ends, killed or not, so a crash never leaves a stale lock.
        """
        if self.temporary:
            yield self
            return
        lock_path = self.path / ".lock"
        handle = open(lock_path, "a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise UsageError(
                    f"{self.path} is being written by {holder}; wait for it to finish, or "
                    "choose another --run-dir") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"dlsuite process {os.getpid()} (since "
                         f"{datetime.datetime.now():%Y-%m-%d %H:%M:%S})")
            handle.flush()
            yield self
        finally:
            handle.close()

    @classmethod
    def open(cls, path):
        """Open an existing run; a directory that is no run is a UsageError."""
        path = pathlib.Path(path)
        if not path.is_dir():
            raise UsageError(f"{path} is not a directory; expected a run directory under runs/")
        if not (path / RECORD).is_file():
            raise UsageError(
                f"{path} is not a dlsuite run (no {RECORD}); "
                "expected a directory written by `dlsuite train`"
            )
        run = cls(path)
        try:
            run.read_record()
        except (ValueError, KeyError) as error:
            raise UsageError(f"{run.record_path} is corrupt ({error}); it cannot be resumed") from None
        return run

    def write_record(self, record):
        atomic.write_text(self.record_path, json.dumps(record, indent=2, sort_keys=True,
                                                       default=str))

    def read_record(self):
        record = json.loads(self.record_path.read_text())
        for key in ("app", "config"):
            if key not in record:
                raise KeyError(f"missing {key!r}")
        return record

    def write_metrics(self, metrics):
        atomic.write_text(self.metrics, json.dumps(metrics, indent=2, sort_keys=True,
                                                   default=float))

    def read_history(self):
        from dlsuite.callbacks import EpochHistoryLog

        return EpochHistoryLog.read(self.history)
