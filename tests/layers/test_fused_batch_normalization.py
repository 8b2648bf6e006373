"""Tests of layers.FusedBatchNormalization: Keras's batch norm, fused."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime.distribute import make_strategy
from dlsuite.layers import FusedBatchNormalization
from tests.layer_checks import check_layer

SHAPE = (4, 5, 5, 3)


def test_layer_checks():
    check_layer(FusedBatchNormalization, init_kwargs={"momentum": 0.9, "epsilon": 1e-3},
                input_shape=SHAPE, expected_output_shape=SHAPE)


def _pair(**kwargs):
    """A Keras batch norm and ours with the same (non-trivial) weights."""
    rng = np.random.default_rng(0)
    keras_layer = keras.layers.BatchNormalization(**kwargs)
    ours = FusedBatchNormalization(**kwargs)
    for layer in (keras_layer, ours):
        layer.build(SHAPE)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in keras_layer.weights]
    keras_layer.set_weights(weights)
    ours.set_weights(weights)
    return keras_layer, ours


def _step(layer, x, training):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        # Weights that differ per element, so the gradient is not all zero.
        loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 3)
    gradients = tape.gradient(loss, [x, *layer.trainable_weights])
    return y, gradients


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"scale": False, "momentum": 0.5}])
def test_equals_keras_batch_norm_forward_backward_and_moving_statistics(training, kwargs):
    keras_layer, ours = _pair(**kwargs)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, SHAPE).astype("float32"))
    expected_y, expected_gradients = _step(keras_layer, x, training)
    y, gradients = _step(ours, x, training)
    np.testing.assert_allclose(y, expected_y, rtol=1e-5, atol=1e-5)
    for got, expected in zip(gradients, expected_gradients):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    for got, expected in zip(ours.non_trainable_weights, keras_layer.non_trainable_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    if training:  # the moving statistics moved, the same way
        assert not np.allclose(ours.moving_mean, _pair(**kwargs)[1].moving_mean)


def test_runs_the_fused_kernel_and_keras_does_not():
    keras_layer, ours = _pair()
    spec = tf.TensorSpec(SHAPE, tf.float32)

    def op_types(layer):
        graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(spec).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in op_types(ours)
    assert "FusedBatchNormV3" not in op_types(keras_layer)


def test_bfloat16_activations_stay_bfloat16_with_float32_statistics():
    layer = FusedBatchNormalization(dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(2).normal(size=SHAPE), tf.bfloat16)
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    # No cast of the 4-D activations to float32 and back (Keras's path has two).
    assert not [op for op in graph.get_operations()
                if op.type == "Cast" and op.inputs[0].shape.rank == 4]
    y = layer(x, training=True)
    assert y.dtype == tf.bfloat16
    assert all(w.dtype == "float32" for w in layer.weights)
    reference = keras.layers.BatchNormalization(dtype="mixed_bfloat16")
    np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(reference(x, training=True),
                                                               tf.float32), atol=0.05)


@pytest.mark.parametrize("shape", [(6, 3), SHAPE])
def test_falls_back_to_keras_where_the_fused_op_does_not_apply(shape):
    # 2-D inputs (after a Dense layer), and axis=1.
    kwargs = {} if len(shape) == 2 else {"axis": 1}
    ours, keras_layer = FusedBatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    x = np.random.default_rng(3).normal(size=shape).astype("float32")
    np.testing.assert_allclose(ours(x, training=True), keras_layer(x, training=True), atol=1e-6)
    graph = tf.function(lambda v: ours(v, training=True)).get_concrete_function(
        tf.TensorSpec(shape, tf.float32)).graph
    assert "FusedBatchNormV3" not in {op.type for op in graph.get_operations()}


def test_synchronized_over_two_replicas_uses_keras_cross_replica_moments():
    # The runtime's strategy over the two logical CPUs: one MirroredStrategy
    # per process (a second would reuse the first one's collective keys).
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    x = np.random.default_rng(4).normal(size=(8, 3, 3, 2)).astype("float32")
    x[:4] += 1.0  # the two replicas' halves differ in mean
    with strategy.scope():
        ours = FusedBatchNormalization(synchronized=True)
        ours.build((None, 3, 3, 2))
    data = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(8))

    @tf.function
    def step(batch):
        return strategy.run(lambda v: ours(v, training=True), args=(batch,))

    step(next(iter(data)))
    # Synchronized moments over both halves = the moments of the whole batch
    # (per-replica variances would miss the spread between the halves' means).
    np.testing.assert_allclose(ours.moving_mean, 0.01 * x.mean(axis=(0, 1, 2)), atol=1e-6)
    np.testing.assert_allclose(ours.moving_variance, 0.99 + 0.01 * x.var(axis=(0, 1, 2)),
                               atol=1e-6)


def test_loads_from_a_keras_file(tmp_path):
    inputs = keras.Input(SHAPE[1:])
    model = keras.Model(inputs, FusedBatchNormalization()(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[-1], FusedBatchNormalization)
