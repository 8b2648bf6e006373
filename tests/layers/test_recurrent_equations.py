"""The curriculum's recurrent equations, written in numpy from Keras's kernels.

The apps use Keras's ``SimpleRNN``, ``LSTM`` and ``GRU`` as they are; these
tests show, for small random weights and inputs, that they compute exactly
the chapter's equations, and name where each weight lives (README.md,
"Recurrent layers: the equations in Keras's weights"). Notation: ``[h, x]``
is the concatenation of the previous hidden state and the input, so
``W [h, x] = h @ U + x @ W_x`` with Keras's ``recurrent_kernel`` as ``U`` and
``kernel`` as ``W_x``.

Keras's gate order in ``kernel`` (``(features, k * units)``),
``recurrent_kernel`` (``(units, k * units)``) and ``bias``:

- ``LSTM``: ``[i | f | C~ | o]`` (input, forget, candidate, output);
- ``GRU``: ``[z | r | h~]`` (update, reset, candidate).

Two conventions differ from the curriculum's GRU and are tested as such:

- Keras's ``z`` is the curriculum's ``1 - z``: Keras computes
  ``h_t = z h_{t-1} + (1 - z) h~_t``. The curriculum's update gate is
  ``sigma(-(...))`` of Keras's pre-activation: the same model, the weights
  of that slice negated.
- ``reset_after=False`` computes the curriculum's candidate
  ``h~_t = tanh(W [r_t * h_{t-1}, x_t] + b)``. ``reset_after=True`` (Keras's
  default, the cuDNN form) applies the reset AFTER the recurrent matmul and
  has a second, recurrent bias: ``h~_t = tanh(x_t W_x + b_x + r_t * (h_{t-1}
  U + b_h))``: a different function of the same-shaped weights.
"""

import keras
import numpy as np
import pytest

BATCH, STEPS, FEATURES, UNITS = 2, 5, 3, 4


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _inputs(seed=0):
    return np.random.default_rng(seed).standard_normal((BATCH, STEPS, FEATURES)).astype("float32")


def _randomise(layer, seed=1):
    """Random weights everywhere, biases included (Keras starts them at 0
    and the forget bias at 1, which would hide a misplaced bias)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32")
                       for w in layer.get_weights()])


def _layer(make, **kwargs):
    layer = make(UNITS, return_sequences=True, return_state=True, **kwargs)
    layer.build((BATCH, STEPS, FEATURES))
    _randomise(layer)
    return layer


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(o) for o in outputs]


def test_simple_rnn_shares_one_set_of_weights_over_time():
    """h_t = tanh(W [h_{t-1}, x_t] + b), the same W and b at every step."""
    layer = _layer(keras.layers.SimpleRNN)
    kernel, recurrent, bias = layer.get_weights()
    x = _inputs()
    sequence, final = _numpy(layer(x))
    h = np.zeros((BATCH, UNITS))
    for t in range(STEPS):
        h = np.tanh(h @ recurrent + x[:, t] @ kernel + bias)
        np.testing.assert_allclose(sequence[:, t], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final, h, rtol=1e-5, atol=1e-6)


def lstm_gate_slices(units):
    """Keras's LSTM gate order: columns of kernel / recurrent_kernel / bias."""
    return {"i": slice(0, units), "f": slice(units, 2 * units),
            "c": slice(2 * units, 3 * units), "o": slice(3 * units, 4 * units)}


def test_lstm_is_the_curriculum_lstm():
    """f_t = s(W_f [h, x] + b_f), i_t = s(W_i [h, x] + b_i),
    C~_t = tanh(W_C [h, x] + b_C), C_t = f_t C_{t-1} + i_t C~_t,
    o_t = s(W_o [h, x] + b_o), h_t = o_t tanh(C_t): at every step, h and C."""
    layer = _layer(keras.layers.LSTM)
    kernel, recurrent, bias = layer.get_weights()
    gate = lstm_gate_slices(UNITS)

    def pre(name, h, x_t):
        return h @ recurrent[:, gate[name]] + x_t @ kernel[:, gate[name]] + bias[gate[name]]

    x = _inputs()
    sequence, final_h, final_c = _numpy(layer(x))
    h, c = np.zeros((BATCH, UNITS)), np.zeros((BATCH, UNITS))
    keras_h, keras_c = np.zeros((BATCH, UNITS), "float32"), np.zeros((BATCH, UNITS), "float32")
    for t in range(STEPS):
        f = sigmoid(pre("f", h, x[:, t]))
        i = sigmoid(pre("i", h, x[:, t]))
        candidate = np.tanh(pre("c", h, x[:, t]))
        c = f * c + i * candidate
        o = sigmoid(pre("o", h, x[:, t]))
        h = o * np.tanh(c)
        np.testing.assert_allclose(sequence[:, t], h, rtol=1e-5, atol=1e-6)
        # The cell state at every step, through Keras's own cell.
        keras_h, (keras_h, keras_c) = layer.cell(x[:, t], [keras_h, keras_c])
        np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_c), c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final_h, h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final_c, c, rtol=1e-5, atol=1e-6)


def test_the_lstm_gate_order_matters():
    """The test above can fail: reading f and i swapped gives other states."""
    layer = _layer(keras.layers.LSTM)
    kernel, recurrent, bias = layer.get_weights()
    gate = lstm_gate_slices(UNITS)
    x = _inputs()
    sequence = _numpy(layer(x))[0]
    h, c = np.zeros((BATCH, UNITS)), np.zeros((BATCH, UNITS))
    swapped = {"i": gate["f"], "f": gate["i"]}
    for t in range(STEPS):
        f, i = (sigmoid(h @ recurrent[:, swapped[n]] + x[:, t] @ kernel[:, swapped[n]]
                        + bias[swapped[n]]) for n in ("f", "i"))
        candidate = np.tanh(h @ recurrent[:, gate["c"]] + x[:, t] @ kernel[:, gate["c"]]
                            + bias[gate["c"]])
        c = f * c + i * candidate
        h = sigmoid(h @ recurrent[:, gate["o"]] + x[:, t] @ kernel[:, gate["o"]]
                    + bias[gate["o"]]) * np.tanh(c)
    assert not np.allclose(sequence[:, -1], h, atol=1e-3)


def gru_gate_slices(units):
    """Keras's GRU gate order: update z, reset r, candidate h~."""
    return {"z": slice(0, units), "r": slice(units, 2 * units), "h": slice(2 * units, 3 * units)}


def _curriculum_gru(x, kernel, recurrent, bias):
    """The curriculum's GRU from Keras's reset_after=False weights:
    z_t = s(W_z [h, x] + b_z) with W_z, b_z the NEGATED Keras z slice,
    r_t = s(W_r [h, x] + b_r), h~_t = tanh(W_h [r_t * h_{t-1}, x_t] + b_h),
    h_t = (1 - z_t) h_{t-1} + z_t h~_t."""
    gate = gru_gate_slices(UNITS)
    h = np.zeros((BATCH, UNITS))
    states = []
    for t in range(STEPS):
        x_t = x[:, t]
        z = sigmoid(-(h @ recurrent[:, gate["z"]] + x_t @ kernel[:, gate["z"]] + bias[gate["z"]]))
        r = sigmoid(h @ recurrent[:, gate["r"]] + x_t @ kernel[:, gate["r"]] + bias[gate["r"]])
        candidate = np.tanh((r * h) @ recurrent[:, gate["h"]] + x_t @ kernel[:, gate["h"]]
                            + bias[gate["h"]])
        h = (1.0 - z) * h + z * candidate
        states.append(h)
    return np.stack(states, axis=1)


def test_gru_with_reset_before_is_the_curriculum_gru():
    layer = _layer(keras.layers.GRU, reset_after=False)
    kernel, recurrent, bias = layer.get_weights()
    assert bias.shape == (3 * UNITS,)
    x = _inputs()
    sequence, final = _numpy(layer(x))
    expected = _curriculum_gru(x, kernel, recurrent, bias)
    np.testing.assert_allclose(sequence, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final, expected[:, -1], rtol=1e-5, atol=1e-6)


def test_gru_reset_after_computes_another_candidate():
    """reset_after=True (Keras's default): two biases (input and recurrent,
    bias shape (2, 3 units)) and h~_t = tanh(x W_h + b_xh + r * (h U_h + b_hh));
    the curriculum's formula does not give its states."""
    layer = _layer(keras.layers.GRU, reset_after=True)
    kernel, recurrent, bias = layer.get_weights()
    assert bias.shape == (2, 3 * UNITS)
    input_bias, recurrent_bias = bias
    gate = gru_gate_slices(UNITS)
    x = _inputs()
    sequence = _numpy(layer(x))[0]
    h = np.zeros((BATCH, UNITS))
    for t in range(STEPS):
        x_part = x[:, t] @ kernel + input_bias
        h_part = h @ recurrent + recurrent_bias
        z = sigmoid(x_part[:, gate["z"]] + h_part[:, gate["z"]])  # Keras's z
        r = sigmoid(x_part[:, gate["r"]] + h_part[:, gate["r"]])
        candidate = np.tanh(x_part[:, gate["h"]] + r * h_part[:, gate["h"]])
        h = z * h + (1.0 - z) * candidate
        np.testing.assert_allclose(sequence[:, t], h, rtol=1e-5, atol=1e-6)
    # Same weights read as the curriculum's (reset before) GRU: other states.
    curriculum = _curriculum_gru(x, kernel, recurrent, input_bias + recurrent_bias)
    assert not np.allclose(sequence, curriculum, atol=1e-3)


@pytest.mark.parametrize("make", [keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN])
def test_bidirectional_is_a_forward_and_a_reversed_layer_concatenated(make):
    """Bidirectional: [forward h_t ; backward h_t], the backward layer run on
    the reversed sequence and its outputs reversed back into time order."""
    layer = keras.layers.Bidirectional(make(UNITS, return_sequences=True))
    layer.build((BATCH, STEPS, FEATURES))
    _randomise(layer)
    x = _inputs()
    both = keras.ops.convert_to_numpy(layer(x))
    forward = keras.ops.convert_to_numpy(layer.forward_layer(x))
    backward = keras.ops.convert_to_numpy(layer.backward_layer(x))
    # Keras's backward layer has go_backwards=True: its outputs come in reversed time.
    np.testing.assert_allclose(both[..., :UNITS], forward, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(both[..., UNITS:], backward[:, ::-1], rtol=1e-6, atol=1e-6)
    alone = make(UNITS, return_sequences=True)
    alone.build((BATCH, STEPS, FEATURES))
    alone.set_weights(layer.backward_layer.get_weights())
    reversed_run = keras.ops.convert_to_numpy(alone(x[:, ::-1]))
    np.testing.assert_allclose(both[..., UNITS:], reversed_run[:, ::-1], rtol=1e-5, atol=1e-6)


def test_a_deep_rnn_feeds_each_layer_the_sequence_below():
    """Stacking: layer l's input at step t is layer l-1's h_t."""
    first = _layer(keras.layers.SimpleRNN)
    second = keras.layers.SimpleRNN(UNITS, return_sequences=True)
    second.build((BATCH, STEPS, UNITS))
    _randomise(second, seed=2)
    x = _inputs()
    below = _numpy(first(x))[0]
    kernel, recurrent, bias = second.get_weights()
    h = np.zeros((BATCH, UNITS))
    stacked = keras.ops.convert_to_numpy(second(below))
    for t in range(STEPS):
        h = np.tanh(h @ recurrent + below[:, t] @ kernel + bias)
        np.testing.assert_allclose(stacked[:, t], h, rtol=1e-5, atol=1e-6)
