"""EpochHistoryLog: one JSON line per finished epoch, gapless across resumes.

Keras's ``CSVLogger(append=True)`` appends whatever epochs a resumed ``fit``
runs; if a crash falls between its write and ``BackupAndRestore``'s save, the
resumed run logs that epoch twice. This logger instead truncates, at the
first epoch a ``fit`` starts, every line of that epoch or later, so the file
holds each epoch exactly once, however often training was interrupted. Each
write replaces the whole file through a temporary one (an atomic rename),
so a kill mid-write leaves the previous version, never a torn line.
"""

import json
import os
import time

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class EpochHistoryLog(keras.callbacks.Callback):
    """Append ``{"epoch": e, "time": t, **logs}`` to ``path`` after each epoch.

    Args:
        path: the ``.jsonl`` file; created if missing.

    Example:

    ```python
    model.fit(x, y, epochs=5, callbacks=[
        keras.callbacks.BackupAndRestore("backup"),
        EpochHistoryLog("history.jsonl"),
    ])
    ```
    """

    def __init__(self, path):
        super().__init__()
        if not path:
            raise ValueError(f"path must be a file path. Received: path={path!r}")
        self.path = os.fspath(path)
        self._truncated = False

    def on_train_begin(self, logs=None):
        self._truncated = False
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self._truncated:
            return
        self._truncated = True
        self._offset = 0.0
        self._rows = [row for row in self.read(self.path) if row["epoch"] < epoch]
        if self._rows:
            # Wall-clock time continues from where the earlier fit stopped.
            self._offset = self._rows[-1].get("time", 0.0)
        self._write(self._rows)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, "time": self._offset + time.perf_counter() - self._start}
        row.update({key: float(value) for key, value in (logs or {}).items()})
        self._rows.append(row)
        self._write(self._rows)

    def _write(self, rows):
        tmp = f"{self.path}.partial-{os.getpid()}"
        with open(tmp, "w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    @staticmethod
    def read(path):
        """The logged rows, oldest first (a torn line, from a writer killed
        mid-line by an older version, is skipped)."""
        if not os.path.exists(path):
            return []
        rows = []
        with open(path) as handle:
            for line in handle:
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue
        return rows

    def get_config(self):
        return {"path": self.path}
