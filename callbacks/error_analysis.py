"""Error analysis: which dev examples the model gets wrong, grouped by
true -> predicted class, with each group's share of the dev error.

No Keras or keras-hub component does this; it is the curriculum's manual
error analysis made automatic. ``error_groups`` is the pure computation;
``ErrorAnalysisLogger`` writes the table to TensorBoard's Text tab after each
epoch, so the biggest confusions are visible while training.
"""

import collections
import os

import keras
import numpy as np


def predicted_classes(probabilities):
    """Class indices from softmax rows or single sigmoid outputs."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2 and probabilities.shape[1] > 1:
        return probabilities.argmax(axis=1)
    return (probabilities.reshape(-1) >= 0.5).astype(np.int64)


def error_groups(y_true, y_pred, class_names):
    """Group mistakes by (true, predicted) class, biggest first.

    Returns a list of dicts ``{"true", "predicted", "count", "share",
    "indices"}``: ``share`` is the group's fraction of all mistakes and
    ``indices`` the positions of its examples in ``y_true``.
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length. Received: "
            f"len(y_true)={len(y_true)}, len(y_pred)={len(y_pred)}"
        )
    wrong = np.flatnonzero(y_true != y_pred)
    buckets = collections.defaultdict(list)
    for index in wrong:
        buckets[(int(y_true[index]), int(y_pred[index]))].append(int(index))
    groups = [
        {
            "true": class_names[t],
            "predicted": class_names[p],
            "count": len(indices),
            "share": len(indices) / len(wrong),
            "indices": indices,
        }
        for (t, p), indices in buckets.items()
    ]
    return sorted(groups, key=lambda g: (-g["count"], g["true"], g["predicted"]))


def markdown_table(groups, total, top=10):
    """The groups as a markdown table; ``total`` is the dev-set size."""
    errors = sum(g["count"] for g in groups)
    lines = [
        f"{errors} of {total} dev examples wrong (dev error {errors / max(total, 1):.4f})",
        "",
        "| true -> predicted | count | share of dev error |",
        "|---|---|---|",
    ]
    for group in groups[:top]:
        lines.append(f"| {group['true']} -> {group['predicted']} | {group['count']} "
                     f"| {group['share']:.1%} |")
    return "\n".join(lines)


class ErrorAnalysisLogger(keras.callbacks.Callback):
    """Log the dev set's error-analysis table to TensorBoard every epoch.

    Args:
        x_dev, y_dev: the dev examples and their integer labels.
        class_names: a name per class index.
        log_dir: TensorBoard directory (a ``validation`` run is written
            inside it, next to Keras's own dev scalars).
        top: how many groups the table shows.
        batch_size: batch size of the predictions.
    """

    def __init__(self, x_dev, y_dev, class_names, log_dir, top=10, batch_size=256):
        super().__init__()
        if top < 1:
            raise ValueError(f"top must be >= 1. Received: top={top}")
        self.x_dev = x_dev
        self.y_dev = np.asarray(y_dev).reshape(-1)
        self.class_names = list(class_names)
        self.log_dir = os.fspath(log_dir)
        self.top = top
        self.batch_size = batch_size
        self.last_groups = None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        probabilities = self.model.predict(self.x_dev, batch_size=self.batch_size, verbose=0)
        groups = error_groups(self.y_dev, predicted_classes(probabilities), self.class_names)
        self.last_groups = groups
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            tf.summary.text("error_analysis",
                            markdown_table(groups, len(self.y_dev), self.top), step=epoch)
        writer.close()
