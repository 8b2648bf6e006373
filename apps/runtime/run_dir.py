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
"""

import datetime
import json
import os
import pathlib
import shutil

from apps.runtime.errors import UsageError

RECORD = "config.json"


class RunDir:
    def __init__(self, path):
        self.path = pathlib.Path(path)

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
        tmp = self.record_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
        os.replace(tmp, self.record_path)

    def read_record(self):
        record = json.loads(self.record_path.read_text())
        for key in ("app", "config"):
            if key not in record:
                raise KeyError(f"missing {key!r}")
        return record

    def write_metrics(self, metrics):
        self.metrics.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=float))

    def read_history(self):
        if not self.history.exists():
            return []
        return [json.loads(line) for line in self.history.read_text().splitlines() if line]
