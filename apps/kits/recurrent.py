"""The recurrent kit: the curriculum's three cells as Keras's layers.

``charlm``, ``seqclass`` and ``translate`` build their recurrent stacks with
:func:`recurrent_layer`, so ``cell=lstm|gru|rnn`` means the same layer in
every app.
"""

import keras

CELLS = ("lstm", "gru", "rnn")


def recurrent_layer(cell, units, *, return_sequences=True, return_state=False, reset_after=True,
                    unroll=False, stateful=False, name=None):
    """Keras's ``LSTM``, ``GRU`` or ``SimpleRNN`` for ``cell``.

    ``reset_after`` is the GRU's (Keras's default ``True``, or the
    curriculum's form ``False``) and is ignored by the other two cells.
    """
    common = dict(return_sequences=return_sequences, return_state=return_state, unroll=unroll,
                  stateful=stateful, name=name)
    if cell == "lstm":
        return keras.layers.LSTM(units, **common)
    if cell == "gru":
        return keras.layers.GRU(units, reset_after=reset_after, **common)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, **common)
    raise ValueError(f"cell must be one of {CELLS}. Received: cell={cell!r}")
