"""Tests of layers.ModulatedConv2D: StyleGAN2's modulated, demodulated convolution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import ModulatedConv2D
from tests.layer_checks import check_layer


@pytest.mark.parametrize("demodulate", [True, False])
def test_layer_checks(demodulate):
    check_layer(ModulatedConv2D, init_kwargs={"filters": 4, "kernel_size": 3,
                                              "demodulate": demodulate},
                input_shape=[(2, 5, 5, 3), (2, 6)], expected_output_shape=(2, 5, 5, 4))


def _inputs(batch=3, size=5, channels=4, w_dim=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, size, size, channels)).astype("float32"),
            rng.standard_normal((batch, w_dim)).astype("float32"))


def _per_example_kernel_reference(layer, x, w):
    """The paper's form: one modulated (and demodulated) kernel per example."""
    style = w @ layer.style_kernel.numpy() * layer.style_scale + layer.style_bias.numpy()
    kernel = layer.kernel.numpy() * layer.kernel_scale
    outputs = []
    for example in range(len(x)):
        modulated = kernel * style[example][None, None, :, None]
        if layer.demodulate:
            modulated = modulated / np.sqrt(
                np.sum(modulated**2, axis=(0, 1, 2), keepdims=True) + layer.epsilon)
        outputs.append(tf.nn.conv2d(x[example:example + 1], modulated.astype("float32"), 1,
                                    "SAME").numpy()[0])
    return np.stack(outputs) + layer.bias.numpy()


@pytest.mark.parametrize("demodulate, kernel_size", [(True, 3), (False, 1), (True, 1)])
def test_equals_a_modulated_kernel_per_example(demodulate, kernel_size):
    layer = ModulatedConv2D(filters=5, kernel_size=kernel_size, demodulate=demodulate)
    x, w = _inputs()
    layer([x, w])
    layer.bias.assign(np.linspace(-1, 1, 5).astype("float32"))
    ours = keras.ops.convert_to_numpy(layer([x, w]))
    np.testing.assert_allclose(ours, _per_example_kernel_reference(layer, x, w),
                               rtol=1e-4, atol=1e-5)


def test_demodulation_restores_unit_variance_whatever_the_style():
    x, w = _inputs(batch=8, size=16, channels=32, seed=1)
    layer = ModulatedConv2D(filters=32, use_bias=False)
    for scale in (0.1, 10.0):
        y = keras.ops.convert_to_numpy(layer([x, w * scale]))
        std = y.reshape(8, -1).std(axis=1)
        assert np.all((std > 0.7) & (std < 1.3)), (scale, std)
    plain = ModulatedConv2D(filters=32, use_bias=False, demodulate=False)
    small, large = (keras.ops.convert_to_numpy(plain([x, w * s])).std() for s in (0.1, 10.0))
    assert large > 3 * small, "without demodulation the style's scale reaches the output"


def test_each_example_takes_its_own_style():
    layer = ModulatedConv2D(filters=3)
    x, w = _inputs(batch=2)
    same_x = np.repeat(x[:1], 2, axis=0)
    y = keras.ops.convert_to_numpy(layer([same_x, w]))
    assert np.abs(y[0] - y[1]).max() > 1e-3
    y_same = keras.ops.convert_to_numpy(layer([same_x, np.repeat(w[:1], 2, axis=0)]))
    np.testing.assert_allclose(y_same[0], y_same[1], atol=1e-6)


def test_styles_start_as_the_identity():
    # style = w A / sqrt(w_dim) + 1: with w = 0 every input channel has scale 1.
    layer = ModulatedConv2D(filters=2, demodulate=False, use_bias=False)
    x, w = _inputs()
    y = keras.ops.convert_to_numpy(layer([x, np.zeros_like(w)]))
    plain = tf.nn.conv2d(x, layer.kernel.numpy() * layer.kernel_scale, 1, "SAME").numpy()
    np.testing.assert_allclose(y, plain, rtol=1e-5, atol=1e-5)


def test_validation_messages():
    for kwargs, message in (({"filters": 0}, "Received: filters=0"),
                            ({"filters": 2, "kernel_size": 2}, "Received: kernel_size=2"),
                            ({"filters": 2, "demodulate": "yes"}, "Received: demodulate=yes"),
                            ({"filters": 2, "use_bias": None}, "Received: use_bias=None"),
                            ({"filters": 2, "epsilon": -1.0}, "Received: epsilon=-1.0")):
        with pytest.raises(ValueError, match=message):
            ModulatedConv2D(**kwargs)
    with pytest.raises(ValueError, match="two inputs"):
        ModulatedConv2D(filters=2).compute_output_shape((2, 4, 4, 3))
    with pytest.raises(ValueError, match="Received: x.shape"):
        ModulatedConv2D(filters=2).build([(2, 4, 3), (2, 5)])
