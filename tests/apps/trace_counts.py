"""A callback that records a custom-step model's ``trace_count`` per epoch:
a count that stops growing after the first epoch means no retracing."""

import keras


class TraceCounts(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.counts = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(self.model.trace_count)
