"""StepProgbarLogger: Keras's progress bar, right with ``steps_per_execution``.

With ``steps_per_execution=k``, Keras reports the end of each execution as
batch ``begin + k - 1`` even where the epoch has fewer batches left, so an
epoch of 15 batches run 16 at a time shows "16/15". This logger clamps the
count to the epoch's number of batches; everything else is
``keras.callbacks.ProgbarLogger``. Pass it in ``callbacks`` and Keras uses
it instead of its own.
"""

import keras


class StepProgbarLogger(keras.callbacks.ProgbarLogger):
    """``keras.callbacks.ProgbarLogger`` whose count never passes its target.

    Example:

    ```python
    model.compile(..., steps_per_execution=16)
    model.fit(x, y, callbacks=[StepProgbarLogger()])  # 45/45, not 48/45
    ```
    """

    def _clamped(self, batch):
        target = self.target
        return min(batch, target - 1) if target else batch

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self._clamped(batch), logs)

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(self._clamped(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self._clamped(batch), logs)
