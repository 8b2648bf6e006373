import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.layers import Sampling


def _inputs(batch=4, latent=3, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((batch, latent)).astype("float32"),
        rng.standard_normal((batch, latent)).astype("float32") * 0.5,
    )


def test_formula_with_given_epsilon():
    z_mean, z_log_var = _inputs()
    epsilon = np.random.default_rng(1).standard_normal(z_mean.shape).astype("float32")
    z = Sampling()([z_mean, z_log_var], epsilon=epsilon)
    expected = z_mean + np.exp(0.5 * z_log_var) * epsilon
    np.testing.assert_allclose(keras.ops.convert_to_numpy(z), expected, rtol=1e-6, atol=1e-6)


def test_samples_have_the_requested_mean_and_variance():
    n = 20000
    z_mean = np.full((n, 2), [1.0, -3.0], "float32")
    z_log_var = np.full((n, 2), np.log([4.0, 0.25]), "float32")
    z = keras.ops.convert_to_numpy(Sampling(seed=3)([z_mean, z_log_var]))
    np.testing.assert_allclose(z.mean(axis=0), [1.0, -3.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.03)


def test_seeded_layers_repeat_and_successive_draws_differ():
    z_mean, z_log_var = _inputs()
    first, second = Sampling(seed=11), Sampling(seed=11)
    a = keras.ops.convert_to_numpy(first([z_mean, z_log_var]))
    b = keras.ops.convert_to_numpy(second([z_mean, z_log_var]))
    np.testing.assert_array_equal(a, b)
    c = keras.ops.convert_to_numpy(first([z_mean, z_log_var]))
    assert not np.allclose(a, c), "a second draw must use fresh noise"


def test_gradients_flow_to_mean_and_log_variance():
    z_mean, z_log_var = (tf.Variable(v) for v in _inputs())
    epsilon = tf.constant(np.random.default_rng(2).standard_normal((4, 3)), tf.float32)
    with tf.GradientTape() as tape:
        z = Sampling()([z_mean, z_log_var], epsilon=epsilon)
        total = tf.reduce_sum(z)
    d_mean, d_log_var = tape.gradient(total, [z_mean, z_log_var])
    np.testing.assert_allclose(d_mean.numpy(), np.ones((4, 3)), atol=1e-6)
    expected = 0.5 * np.exp(0.5 * z_log_var.numpy()) * epsilon.numpy()
    np.testing.assert_allclose(d_log_var.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_validation_messages():
    with pytest.raises(ValueError, match="Received: seed=abc"):
        Sampling(seed="abc")
    with pytest.raises(ValueError, match="Received: z_mean.shape"):
        Sampling()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match="two inputs"):
        Sampling().compute_output_shape((2, 3))


def test_config_round_trip_and_shapes():
    layer = Sampling(seed=5, name="z")
    config = layer.get_config()
    assert config["seed"] == 5
    assert Sampling.from_config(config).get_config() == config
    assert layer.compute_output_shape([(None, 7), (None, 7)]) == (None, 7)
    mean_in, log_var_in = keras.Input((7,)), keras.Input((7,))
    assert tuple(layer([mean_in, log_var_in]).shape) == (None, 7)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_output_in_compute_dtype(policy):
    z_mean, z_log_var = _inputs()
    layer = Sampling(seed=1, dtype=policy)
    z = layer([z_mean, z_log_var])
    assert keras.backend.standardize_dtype(z.dtype) == keras.DTypePolicy(policy).compute_dtype
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(z, "float32"))))
    assert not layer.trainable_weights
    # exp(0.5 * 60) overflows float16 but not the float32 arithmetic inside.
    big = layer([np.zeros((1, 1), "float32"), np.full((1, 1), 40.0, "float32")])
    assert keras.backend.standardize_dtype(big.dtype) == keras.DTypePolicy(policy).compute_dtype


def _tiny_vae_like_model():
    inputs = keras.Input((5,))
    z_mean = keras.layers.Dense(2, name="mean")(inputs)
    z_log_var = keras.layers.Dense(2, name="log_var")(inputs)
    z = Sampling(seed=9, name="sampling")([z_mean, z_log_var])
    return keras.Model(inputs, keras.layers.Dense(5, name="out")(z))


def test_one_fit_step_updates_the_encoder_through_the_layer():
    model = _tiny_vae_like_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_layer("log_var").get_weights()[0].copy()
    x = np.random.default_rng(0).standard_normal((8, 5)).astype("float32")
    history = model.fit(x, x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, model.get_layer("log_var").get_weights()[0])


def test_keras_round_trip_keeps_the_noise_stream(tmp_path):
    model = _tiny_vae_like_model()
    x = np.random.default_rng(0).standard_normal((3, 5)).astype("float32")
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.get_layer("sampling"), Sampling)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6
    )
