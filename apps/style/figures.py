"""What a style run shows: TensorBoard images and costs every N steps, and the
report's figures (content, style and result side by side, cost curves,
held-out photos stylised)."""

import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime.figures import save_figure, pyplot as plt

COSTS_FILE = "costs.jsonl"
COST_NAMES = ("loss", "content_cost", "style_cost", "total_variation")


class StyleProgressLogger(keras.callbacks.Callback):
    """Every ``every`` optimizer steps (and after the last), log
    ``snapshot(model) -> (uint8 image (1, H, W, 3), {cost: float})`` to
    TensorBoard (``tb/images``: the image, and each cost under
    ``step/<cost>``) and append the costs to ``costs_path`` (JSON lines).

    Steps are counted by the optimizer, so a resumed run goes on counting.
    """

    def __init__(self, snapshot, every, tb_dir, costs_path, name="generated"):
        super().__init__()
        self.snapshot = snapshot
        self.every = every
        self.tb_dir = pathlib.Path(tb_dir) / "images"
        self.costs_path = pathlib.Path(costs_path)
        self.name = name
        self._writer = None
        self._last = None

    def _step(self):
        return int(self.model.role_optimizers[self.model.roles[0]].iterations.numpy())

    def log(self, step):
        image, costs = self.snapshot(self.model)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.tb_dir))
        with self._writer.as_default():
            tf.summary.image(self.name, np.asarray(image), step=step)
            for name, value in costs.items():
                tf.summary.scalar(f"step/{name}", value, step=step)
        self._writer.flush()
        with self.costs_path.open("a") as handle:
            handle.write(json.dumps({"step": step, **costs}) + "\n")
        self._last = step

    def on_train_begin(self, logs=None):
        # A resumed run has logged its start (its weights are restored later
        # in this same callback round, by BackupAndRestore).
        if self._step() == 0 and not self.costs_path.exists():
            self.log(0)

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        if step % self.every == 0 and step != self._last:
            self.log(step)

    def on_train_end(self, logs=None):
        step = self._step()
        if step != self._last:
            self.log(step)
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_costs(run_path):
    path = pathlib.Path(run_path) / COSTS_FILE
    if not path.exists():
        return []
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["step"]] = row  # a resumed run may log a step again
    return [rows[step] for step in sorted(rows)]


def save_png(image, path):
    plt.imsave(path, np.asarray(image, np.uint8))
    return path


def side_by_side(panels, path):
    """``[(title, uint8 image)]`` in one row."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.4))
    for axis, (title, image) in zip(np.atleast_1d(axes), panels):
        axis.imshow(np.asarray(image, np.uint8))
        axis.set_title(title)
        axis.axis("off")
    figure.tight_layout()
    save_figure(figure, path)
    return path


def cost_curves(rows, path):
    """Each cost against the optimizer step, log scale."""
    names = [n for n in COST_NAMES if any(n in row and row[n] > 0 for row in rows)]
    if len(rows) < 2 or not names:
        return None
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    steps = [row["step"] for row in rows]
    for axis, name in zip(axes[0], names):
        # A log axis shows no zero (the content cost at the start).
        values = [row[name] if row.get(name, 0) > 0 else np.nan for row in rows]
        axis.plot(steps, values, marker=".")
        axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_title(name)
    figure.tight_layout()
    save_figure(figure, path)
    return path


def photo_grid(pairs, path):
    """Held-out photos (top row) over their stylised versions (bottom row)."""
    figure, axes = plt.subplots(2, len(pairs), figsize=(4 * len(pairs), 8), squeeze=False)
    for column, (name, photo, stylized) in enumerate(pairs):
        for row, image in enumerate((photo, stylized)):
            axes[row][column].imshow(np.asarray(image, np.uint8))
            axes[row][column].axis("off")
        axes[0][column].set_title(name)
    figure.tight_layout()
    save_figure(figure, path)
    return path
