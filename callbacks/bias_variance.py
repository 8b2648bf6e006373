"""Bias and variance against human-level error (the curriculum's basic recipe).

With human-level error as a proxy for Bayes error:

    avoidable bias = train error - human error
    variance       = dev error   - train error

The larger of the two says what to do next: for bias a bigger network,
training longer or a better optimizer; for variance more data or
regularization (L2, dropout, augmentation). No library ships this, so it is
written here; ``BiasVarianceMonitor`` logs both numbers to TensorBoard each
epoch from the accuracy ``fit`` already reports.
"""

import keras


def bias_variance(train_error, dev_error, human_error):
    """Return the analysis as a dict with a one-line ``verdict``."""
    for name, value in (("train_error", train_error), ("dev_error", dev_error),
                        ("human_error", human_error)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1]. Received: {name}={value}")
    avoidable_bias = train_error - human_error
    variance = dev_error - train_error
    if max(avoidable_bias, variance) <= 0.005:
        verdict = ("both avoidable bias and variance are small: the model is near "
                   "human level; look at the test set and the metric itself")
    elif avoidable_bias >= variance:
        verdict = ("high avoidable bias: train a bigger network, train longer, or use a "
                   "better optimizer / architecture")
    else:
        verdict = ("high variance: get more data, or regularize (L2, dropout, "
                   "augmentation, early stopping)")
    return {
        "human_error": human_error,
        "train_error": train_error,
        "dev_error": dev_error,
        "avoidable_bias": avoidable_bias,
        "variance": variance,
        "verdict": verdict,
    }


class BiasVarianceMonitor(keras.callbacks.Callback):
    """Add ``avoidable_bias`` and ``variance`` to the epoch logs.

    Reads ``accuracy`` and ``val_accuracy`` (names configurable) from the logs
    ``fit`` reports, so it costs nothing; TensorBoard and History pick the
    two new entries up when this callback runs before them.

    Args:
        human_error: human-level error in [0, 1].
        metric: the accuracy-like metric in the logs.
    """

    def __init__(self, human_error, metric="accuracy"):
        super().__init__()
        if not 0.0 <= human_error < 1.0:
            raise ValueError(f"human_error must be in [0, 1). Received: human_error={human_error}")
        self.human_error = human_error
        self.metric = metric

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self.metric not in logs or f"val_{self.metric}" not in logs:
            return
        train_error = 1.0 - float(logs[self.metric])
        dev_error = 1.0 - float(logs[f"val_{self.metric}"])
        logs["avoidable_bias"] = train_error - self.human_error
        logs["variance"] = dev_error - train_error
