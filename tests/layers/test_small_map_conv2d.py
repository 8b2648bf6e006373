"""Tests of layers.SmallMapConv2D: Conv2D with a matmul kernel gradient on small maps."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import SmallMapConv2D
from tests.layer_checks import check_layer


def test_layer_checks():
    # A 3x3 output map and a limit of 9: every check runs the matmul gradient.
    check_layer(SmallMapConv2D,
                init_kwargs={"filters": 4, "kernel_size": 3, "padding": "same",
                             "matmul_gradient_max_positions": 9},
                input_shape=(2, 3, 3, 2), expected_output_shape=(2, 3, 3, 4))


def _pair(input_shape, limit=100, **kwargs):
    """A keras Conv2D and ours with the same (random, nonzero-bias) weights."""
    rng = np.random.default_rng(0)
    keras_layer, ours = keras.layers.Conv2D(**kwargs), SmallMapConv2D(
        matmul_gradient_max_positions=limit, **kwargs)
    for layer in (keras_layer, ours):
        layer.build(input_shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in keras_layer.weights]
    keras_layer.set_weights(weights)
    ours.set_weights(weights)
    return keras_layer, ours


def _output_and_gradients(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        # Element-wise different output gradients, so every term counts.
        loss = tf.reduce_sum(tf.sin(tf.cast(y, tf.float32)) * tf.cast(y, tf.float32))
    return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]


CONFIGS = [
    {"filters": 5, "kernel_size": 1},  # pointwise: one matmul outright
    {"filters": 5, "kernel_size": 1, "strides": 2},  # ResNet's strided 1x1, odd map
    {"filters": 5, "kernel_size": 1, "strides": 2, "padding": "same"},
    {"filters": 6, "kernel_size": 3, "padding": "same"},
    {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"},  # DCGAN's
    {"filters": 3, "kernel_size": 3, "strides": 2},  # valid padding
    {"filters": 3, "kernel_size": (3, 2), "strides": (1, 2), "padding": "same"},
]


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_output_and_gradients_equal_keras_conv2d(kwargs):
    shape = (3, 5, 5, 4)
    keras_layer, ours = _pair(shape, **kwargs)
    assert ours.uses_matmul_gradient(shape)
    x = tf.constant(np.random.default_rng(1).normal(size=shape).astype("float32"))
    for got, expected in zip(_output_and_gradients(ours, x),
                             _output_and_gradients(keras_layer, x)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def _gradient_op_types(layer, shape):
    x = tf.TensorSpec(shape, tf.float32)

    @tf.function
    def gradients(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            loss = tf.reduce_sum(layer(v) ** 2)
        return tape.gradient(loss, [v, layer.kernel])

    return {op.type for op in gradients.get_concrete_function(x).graph.get_operations()}


def test_takes_the_matmul_gradient_up_to_the_limit_and_the_conv_one_beyond():
    # 3x3 "same" on 2x2 maps = 4 output positions, the default limit.
    small = SmallMapConv2D(8, 3, padding="same")
    small.build((2, 2, 2, 3))
    ops = _gradient_op_types(small, (2, 2, 2, 3))
    assert "Conv2DBackpropFilter" not in ops and "ExtractImagePatches" in ops
    assert "Conv2DBackpropInput" in ops  # the input gradient is TensorFlow's usual one
    # 3x3 output = 9 positions, over the default limit: keras Conv2D's gradient.
    large = SmallMapConv2D(8, 3, padding="same")
    large.build((2, 3, 3, 3))
    assert not large.uses_matmul_gradient((2, 3, 3, 3))
    assert "Conv2DBackpropFilter" in _gradient_op_types(large, (2, 3, 3, 3))
    never = SmallMapConv2D(8, 3, padding="same", matmul_gradient_max_positions=0)
    never.build((2, 2, 2, 3))
    assert "Conv2DBackpropFilter" in _gradient_op_types(never, (2, 2, 2, 3))


def test_pointwise_convolution_is_one_matmul_on_small_maps():
    layer = SmallMapConv2D(8, 1)
    layer.build((2, 2, 2, 3))
    ops = _gradient_op_types(layer, (2, 2, 2, 3))
    assert "MatMul" in ops and not {op for op in ops if op.startswith("Conv2D")}
    # On a larger map, keras Conv2D's ops.
    layer = SmallMapConv2D(8, 1)
    layer.build((2, 3, 3, 3))
    assert {"Conv2D", "Conv2DBackpropFilter"} <= _gradient_op_types(layer, (2, 3, 3, 3))


def test_dilated_convolutions_keep_keras_gradient():
    layer = SmallMapConv2D(2, 3, dilation_rate=2, padding="same")
    layer.build((1, 2, 2, 1))
    assert not layer.uses_matmul_gradient((1, 2, 2, 1))


def test_mixed_bfloat16_gradients_match_keras_within_bfloat16_rounding():
    shape = (4, 2, 2, 16)
    keras_layer, ours = _pair(shape, filters=8, kernel_size=3, padding="same",
                              dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(2).normal(size=shape), tf.bfloat16)
    got, expected = _output_and_gradients(ours, x), _output_and_gradients(keras_layer, x)
    assert got[0].dtype == tf.bfloat16 and ours.kernel.dtype == "float32"
    assert got[2].dtype == tf.float32  # the kernel gradient reaches the float32 weight
    for g, e in zip(got, expected):
        g, e = np.asarray(tf.cast(g, tf.float32)), np.asarray(tf.cast(e, tf.float32))
        np.testing.assert_allclose(g, e, rtol=0.05, atol=0.05 * np.abs(e).max())


@pytest.mark.parametrize("value", [-1, 2.5, True, "4"])
def test_rejects_a_bad_limit(value):
    with pytest.raises(ValueError, match="matmul_gradient_max_positions"):
        SmallMapConv2D(4, 3, matmul_gradient_max_positions=value)


def test_keras_file_keeps_the_limit(tmp_path):
    inputs = keras.Input((4, 4, 2))
    model = keras.Model(inputs, SmallMapConv2D(3, 3, matmul_gradient_max_positions=7)(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras").layers[-1]
    assert isinstance(loaded, SmallMapConv2D) and loaded.matmul_gradient_max_positions == 7


def test_mirrored_step_equals_single_device_step():
    from dlsuite.apps.runtime.distribute import make_strategy

    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 2, 2, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")

    def trained(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((2, 2, 3))
            hidden = SmallMapConv2D(4, 3, padding="same")(inputs)
            model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(hidden)))
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        start = [w.copy() for w in model.get_weights()]
        model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, verbose=0)
        return start, model.get_weights()

    mirrored = make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    start_single, single = trained(tf.distribute.get_strategy())
    start_mirrored, replicated = trained(mirrored)
    for a, b in zip(start_single, start_mirrored):
        np.testing.assert_array_equal(a, b)
    for before, a, b in zip(start_single, single, replicated):
        assert not np.allclose(before, a)  # the step moved every weight
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
