"""Ways to run charlm's LSTM stack on a CPU, timed against ``torch.nn.LSTM``.

``charlm_bench``'s ``variants`` run: the 2 x 256 LSTM stack alone (batch 128,
100 steps, 64 inputs, float32), forward and backward of ``mean(h ** 2)``
inside one ``tf.function``, for

* ``keras``: ``keras.layers.LSTM`` as the app builds it (a ``while`` loop of
  the cell's matmuls and gate ops; cuDNN's fused kernel is GPU-only);
* ``keras unroll``: the same with ``unroll=True`` (100 steps written out);
* ``keras implementation=1``: the cell's per-gate matmuls;
* ``hoisted input projection``: ``x W + b`` for every step as one matmul
  before the loop, only ``h U`` inside it (what cuDNN and oneDNN's RNN
  primitive do);
* ``tf BlockLSTM``: TensorFlow's fused LSTM kernel (``tf.raw_ops``, its
  gradient registered in TensorFlow), the whole loop in one C++ op.

Every variant shares the Keras layer's weights and is checked against it
(loss and gradients) before it is timed; PyTorch's ``nn.LSTM`` of the same
sizes runs the same step in a child process (``charlm_torch_lstm``).
"""

import statistics

import keras
import numpy as np
import tensorflow as tf

from benchmarks import torch_child
from benchmarks.common import interleaved_rounds, median_time

SIZES = {"batch": 128, "length": 100, "inputs": 64, "units": 256, "depth": 2}


class HoistedProjectionLSTM(keras.layers.LSTM):
    """Keras's LSTM with the input projection of all steps taken out of the loop."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        from keras.src.backend import rnn  # Keras's own loop, the one LSTM runs

        cell = self.cell
        projected = keras.ops.matmul(sequences, cell.kernel) + cell.bias

        def step(projected_t, states):
            h, c = states
            gates = projected_t + keras.ops.matmul(h, cell.recurrent_kernel)
            i, f, g, o = keras.ops.split(gates, 4, axis=-1)
            c = cell.recurrent_activation(f) * c + cell.recurrent_activation(i) * cell.activation(g)
            h = cell.recurrent_activation(o) * cell.activation(c)
            return h, [h, c]

        return rnn(step, projected, list(initial_state), mask=mask,
                   input_length=sequences.shape[1], return_all_outputs=True)


def _icfo(matrix):
    """Keras's gate order (i, f, c, o) on the last axis -> ``BlockLSTM``'s (i, c, f, o)."""
    i, f, c, o = tf.split(matrix, 4, axis=-1)
    return tf.concat([i, c, f, o], axis=-1)


class BlockLSTM(keras.layers.LSTM):
    """Keras's LSTM weights run by TensorFlow's fused ``BlockLSTM`` kernel.

    ``BlockLSTMV2`` takes Keras's gate order as it is and computes the same
    forward pass, but its registered gradient disagreed with Keras's by the
    gradients' own size (measured here, TensorFlow 2.21), so the first
    version runs, with the gates reordered and no forget bias added."""

    def inner_loop(self, sequences, initial_state, mask, training=False):
        h0, c0 = initial_state
        cell = self.cell
        time_major = tf.transpose(sequences, [1, 0, 2])
        no_peephole = tf.zeros([self.units])
        outputs = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.cast(tf.shape(time_major)[0], tf.int64), x=time_major,
            cs_prev=c0, h_prev=h0,
            w=_icfo(tf.concat([cell.kernel, cell.recurrent_kernel], 0)),
            wci=no_peephole, wcf=no_peephole, wco=no_peephole, b=_icfo(cell.bias),
            forget_bias=0.0, cell_clip=-1.0, use_peephole=False)
        cells, hidden = outputs[1], outputs[6]
        return hidden[-1], tf.transpose(hidden, [1, 0, 2]), [hidden[-1], cells[-1]]


VARIANTS = {
    "keras": lambda units: keras.layers.LSTM(units, return_sequences=True),
    "keras unroll": lambda units: keras.layers.LSTM(units, return_sequences=True, unroll=True),
    "keras implementation=1": lambda units: keras.layers.LSTM(
        units, return_sequences=True, implementation=1),
    "hoisted input projection": lambda units: HoistedProjectionLSTM(units, return_sequences=True),
    "tf BlockLSTM": lambda units: BlockLSTM(units, return_sequences=True),
}


def _stack_step(make, inputs, sizes, weights=None):
    keras.utils.set_random_seed(0)
    layers = [make(sizes["units"]) for _ in range(sizes["depth"])]
    width = sizes["inputs"]
    for layer in layers:
        layer.build((sizes["batch"], sizes["length"], width))
        width = sizes["units"]
    variables = [v for layer in layers for v in layer.trainable_variables]
    if weights is not None:
        for variable, value in zip(variables, weights):
            variable.assign(value)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            outputs = inputs
            for layer in layers:
                outputs = layer(outputs)
            loss = tf.reduce_mean(tf.square(outputs))
        return loss, tape.gradient(loss, variables)

    return step, [v.numpy() for v in variables]


def _largest_difference(reference, other):
    loss_a, grads_a = reference
    loss_b, grads_b = other
    scale = max(float(np.max(np.abs(g))) for g in grads_a)
    gradient = max(float(np.max(np.abs(a - b))) for a, b in zip(grads_a, grads_b)) / scale
    return abs(float(loss_a) - float(loss_b)) / abs(float(loss_a)), gradient


def measure(quick):
    """{variant: median ms per step, ...}, each variant's agreement with Keras's
    LSTM, and PyTorch's ``nn.LSTM`` stack from a child process."""
    sizes = dict(SIZES, length=10) if quick else SIZES
    rounds = 1 if quick else 5
    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.standard_normal(
        (sizes["batch"], sizes["length"], sizes["inputs"])).astype("float32"))
    reference_step, weights = _stack_step(VARIANTS["keras"], inputs, sizes)
    reference = reference_step()
    steps, agreement = {"keras": reference_step}, {}
    for name, make in VARIANTS.items():
        if name != "keras":
            steps[name], _ = _stack_step(make, inputs, sizes, weights)
        loss, gradient = _largest_difference(reference, steps[name]())
        agreement[name] = {"loss_relative": loss, "gradient_relative_to_largest": gradient}
    settings = {**sizes, "measure": "lstm_stack", "warmup": 1, "repeats": 2 if quick else 3,
                "variants": [["eager float32", False, False]]}

    def seconds_per_step(name, step):
        if step is not None:
            return median_time(step, repeats=2, warmup=1)
        child = torch_child.run("benchmarks.charlm_torch_lstm", settings, "PyTorch LSTM stack")
        return (child or {}).get("eager float32", {}).get("seconds_per_step")

    seconds = interleaved_rounds({**steps, "torch nn.LSTM": None}, rounds, seconds_per_step)
    seconds = {name: v for name, v in seconds.items() if None not in v}  # torch not installed
    result = {"sizes": sizes, "agreement_with_keras": agreement,
              "ms_per_step": {name: 1000 * statistics.median(v) for name, v in seconds.items()},
              "rounds_ms": {name: [1000 * s for s in v] for name, v in seconds.items()}}
    return result
