import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.losses import KLDivergence, kl_divergence


def _params(shape=(6, 4), seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype("float32"), rng.standard_normal(shape).astype("float32")


def test_zero_for_the_standard_normal():
    values = kl_divergence(np.zeros((3, 5)), np.zeros((3, 5)))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(values), np.zeros(3))


def test_matches_the_textbook_form_per_dimension():
    z_mean, z_log_var = _params()
    sigma = np.exp(0.5 * z_log_var.astype("float64"))
    # KL(N(mu, sigma^2) || N(0, 1)) = log(1 / sigma) + (sigma^2 + mu^2) / 2 - 1/2
    expected = (np.log(1 / sigma) + (sigma**2 + z_mean**2) / 2 - 0.5).sum(axis=1)
    actual = keras.ops.convert_to_numpy(kl_divergence(z_mean, z_log_var))
    assert actual.shape == (6,)
    np.testing.assert_allclose(actual, expected, rtol=1e-5)
    assert np.all(actual >= 0)


def test_matches_a_monte_carlo_estimate():
    z_mean = np.array([[0.5, -1.0]], "float32")
    z_log_var = np.array([[0.3, -0.7]], "float32")
    rng = np.random.default_rng(0)
    sigma = np.exp(0.5 * z_log_var[0])
    z = z_mean[0] + sigma * rng.standard_normal((200000, 2))
    log_q = (-0.5 * ((z - z_mean[0]) / sigma) ** 2 - np.log(sigma)).sum(axis=1)
    log_p = (-0.5 * z**2).sum(axis=1)
    estimate = np.mean(log_q - log_p)
    exact = float(keras.ops.convert_to_numpy(kl_divergence(z_mean, z_log_var))[0])
    assert abs(estimate - exact) < 0.01


def test_float16_inputs_give_float32_and_a_spatial_latent_sums_all_axes():
    z_mean, z_log_var = _params((2, 3, 3, 2))
    values = kl_divergence(z_mean.astype("float16"), z_log_var.astype("float16"))
    assert keras.backend.standardize_dtype(values.dtype) == "float32"
    assert tuple(values.shape) == (2,)
    flat = kl_divergence(z_mean.reshape(2, -1), z_log_var.reshape(2, -1))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(values), keras.ops.convert_to_numpy(flat), rtol=2e-3
    )


def test_gradient_pushes_towards_the_prior():
    z_mean, z_log_var = (tf.Variable(v) for v in _params())
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(kl_divergence(z_mean, z_log_var))
    d_mean, d_log_var = tape.gradient(total, [z_mean, z_log_var])
    np.testing.assert_allclose(d_mean.numpy(), z_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(d_log_var.numpy(), 0.5 * (np.exp(z_log_var.numpy()) - 1), rtol=1e-5)


def test_shape_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="Received: z_mean.shape=\\(2, 3\\)"):
        kl_divergence(np.zeros((2, 3)), np.zeros((2, 4)))


def test_loss_class_wraps_the_function_and_round_trips():
    z_mean, z_log_var = _params()
    loss = KLDivergence(reduction="sum")
    value = loss(np.zeros((6, 8)), np.concatenate([z_mean, z_log_var], axis=-1))
    expected = np.sum(keras.ops.convert_to_numpy(kl_divergence(z_mean, z_log_var)))
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)
    config = keras.saving.serialize_keras_object(loss)
    revived = keras.saving.deserialize_keras_object(config)
    assert isinstance(revived, KLDivergence) and revived.reduction == "sum"
    with pytest.raises(ValueError, match="Received: y_pred.shape=\\(2, 3\\)"):
        loss(np.zeros((2, 3)), np.zeros((2, 3), "float32"))


def test_fit_with_the_loss_class_lowers_it():
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(6)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=KLDivergence())
    x = np.random.default_rng(0).standard_normal((16, 4)).astype("float32")
    history = model.fit(x, np.zeros((16, 6), "float32"), batch_size=16, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
