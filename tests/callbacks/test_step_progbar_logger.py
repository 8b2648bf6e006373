"""StepProgbarLogger: with steps_per_execution the count never passes the
number of batches (Keras's own logger shows "16/5")."""

import re

import keras
import numpy as np

from dlsuite.callbacks import StepProgbarLogger


def _counts(text):
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)  # drop the terminal colours
    return [(int(a), int(b)) for a, b in re.findall(r"(\d+)/(\d+) ", plain)]


def _fit(callbacks):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=16)
    x = np.zeros((160, 3), "float32")
    model.fit(x, x[:, :1], batch_size=32, epochs=2, verbose=1, callbacks=callbacks)


def test_the_count_stops_at_the_number_of_batches(capsys):
    _fit([StepProgbarLogger()])
    counts = _counts(capsys.readouterr().out)
    assert counts and all(done <= total for done, total in counts), counts
    assert (5, 5) in counts


def test_keras_own_logger_overshoots(capsys):
    _fit([])
    assert (16, 5) in _counts(capsys.readouterr().out)
