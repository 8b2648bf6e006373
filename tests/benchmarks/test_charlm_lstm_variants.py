"""The LSTM variants charlm's benchmark times compute what Keras's LSTM
computes: a speed figure for a different function would mean nothing."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import charlm_lstm_variants as variants

SIZES = {"batch": 3, "length": 5, "inputs": 4, "units": 6, "depth": 2}


def _inputs():
    return tf.constant(np.random.default_rng(0).standard_normal(
        (SIZES["batch"], SIZES["length"], SIZES["inputs"])).astype("float32"))


@pytest.mark.parametrize("name", [n for n in variants.VARIANTS if n != "keras"])
def test_each_variant_gives_keras_lstm_loss_and_gradients(name):
    inputs = _inputs()
    reference_step, weights = variants._stack_step(variants.VARIANTS["keras"], inputs, SIZES)
    step, _ = variants._stack_step(variants.VARIANTS[name], inputs, SIZES, weights)
    loss, gradient = variants._largest_difference(reference_step(), step())
    assert loss < 1e-5
    assert gradient < 1e-4


def test_the_check_sees_a_wrong_gate_order(monkeypatch):
    # BlockLSTM fed Keras's gate order unchanged computes another function:
    # the agreement figure the benchmark prints must show it.
    inputs = _inputs()
    reference_step, weights = variants._stack_step(variants.VARIANTS["keras"], inputs, SIZES)
    monkeypatch.setattr(variants, "_icfo", lambda matrix: matrix)
    step, _ = variants._stack_step(variants.VARIANTS["tf BlockLSTM"], inputs, SIZES, weights)
    loss, gradient = variants._largest_difference(reference_step(), step())
    assert max(loss, gradient) > 1e-3
