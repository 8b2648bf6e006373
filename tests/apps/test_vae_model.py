"""The VAE model under tf.distribute, mixed precision and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime.distribute import make_strategy
from dlsuite.apps.vae.models import VAE, build_decoder, build_encoder, to_uint8
from dlsuite.losses import kl_divergence

IMAGE_SHAPE = (8, 8, 1)
LATENT = 2


def mirrored_strategy():
    """The runtime's MirroredStrategy over the two logical CPUs (one per
    process: a second one would reuse the first one's collective keys)."""
    return make_strategy("mirrored")


def make_vae(optimizer=lambda: keras.optimizers.SGD(0.01), reconstruction="bce", beta=1.0):
    keras.utils.set_random_seed(5)
    vae = VAE(build_encoder(IMAGE_SHAPE, LATENT, filters=4, hidden_units=8),
              build_decoder(IMAGE_SHAPE, LATENT, filters=4, hidden_units=8),
              beta=beta, reconstruction=reconstruction, noise_seed=3)
    vae.compile(optimizer=optimizer())
    vae.build_optimizers()
    return vae


def _images(count=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count,) + IMAGE_SHAPE).astype("uint8")


def _dataset(count=8, batch=8):
    return tf.data.Dataset.from_tensor_slices(_images(count)).batch(batch)


def _weights(vae):
    return [keras.ops.convert_to_numpy(v.value) for v in vae.encoder.weights + vae.decoder.weights]


def test_loss_is_reconstruction_plus_beta_kl():
    vae = make_vae(beta=0.5)
    images = _images(4)
    epsilon = np.random.default_rng(1).standard_normal((4, LATENT)).astype("float32")
    terms = vae.compute_terms("model", {"images": images, "epsilon": epsilon}, training=False)
    x = images.astype("float32") / 255.0
    z_mean, z_log_var = (np.array(t) for t in vae.encoder(x))
    z = z_mean + np.exp(0.5 * z_log_var) * epsilon
    p = 1 / (1 + np.exp(-np.array(vae.decoder(z), dtype="float64")))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(4, -1).sum(axis=1)
    kl = np.array(kl_divergence(z_mean, z_log_var))
    np.testing.assert_allclose(np.array(terms["reconstruction_loss"]), bce, rtol=1e-4)
    np.testing.assert_allclose(np.array(terms["kl_loss"]), kl, rtol=1e-5)
    np.testing.assert_allclose(np.array(terms["loss"]), bce + 0.5 * kl, rtol=1e-4)
    mse = make_vae(reconstruction="mse").compute_terms("model", images, training=False)
    assert np.all(np.array(mse["reconstruction_loss"]) <= 64.0)


def test_mirrored_first_step_equals_single_device():
    single = make_vae()
    initial = _weights(single)
    single.fit(_dataset(), epochs=1, verbose=0)
    with mirrored_strategy().scope():
        mirrored = make_vae()
    for a, b in zip(initial, _weights(mirrored)):
        np.testing.assert_array_equal(a, b)
    mirrored.fit(_dataset(), epochs=1, verbose=0)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(_weights(single), initial))
    assert moved > 1e-4
    for a, b in zip(_weights(single), _weights(mirrored)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains(policy):
    keras.config.set_dtype_policy(policy)
    vae = make_vae(optimizer=lambda: keras.optimizers.Adam(1e-2))
    scaled = isinstance(vae.role_optimizers["model"], keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "mixed_float16")
    history = vae.fit(_dataset(32, 8), epochs=3, verbose=0)
    for name in ("loss", "reconstruction_loss", "kl_loss"):
        assert np.all(np.isfinite(history.history[name])), name
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_no_retracing_after_the_first_epoch():
    vae = make_vae()
    counts = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: counts.append(vae.trace_count))
    vae.fit(_dataset(20, 8), validation_data=_dataset(20, 8), epochs=3, verbose=0,
            callbacks=[record])
    assert counts[0] > 0 and counts == [counts[0]] * 3, counts


def test_keras_round_trip_and_saved_model_endpoints(tmp_path):
    vae = make_vae(optimizer=lambda: keras.optimizers.Adam(1e-3))
    vae.fit(_dataset(), epochs=1, verbose=0)
    vae.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    assert isinstance(loaded, VAE) and loaded.reconstruction == "bce"
    images = _images(3, seed=4)
    np.testing.assert_allclose(np.array(loaded(images)), np.array(vae(images)), atol=1e-6)
    assert int(loaded.role_optimizers["model"].iterations) == 1

    archive = keras.export.ExportArchive()
    archive.track(vae)
    archive.add_endpoint("decode", lambda z: to_uint8(vae.decode(z)),
                         [tf.TensorSpec((None, LATENT), tf.float32)])
    archive.write_out(str(tmp_path / "export"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "export"))
    z = tf.constant([[0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_array_equal(reloaded.decode(z).numpy(), to_uint8(vae.decode(z)).numpy())


def test_validation():
    encoder = build_encoder(IMAGE_SHAPE, LATENT, 4, 8)
    decoder = build_decoder(IMAGE_SHAPE, LATENT, 4, 8)
    with pytest.raises(ValueError, match="Received: beta=-1"):
        VAE(encoder, decoder, beta=-1)
    with pytest.raises(ValueError, match="Received: reconstruction='l1'"):
        VAE(encoder, decoder, reconstruction="l1")
