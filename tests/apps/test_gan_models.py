"""DCGAN and ConditionalGAN under tf.distribute, mixed precision, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime.distribute import make_strategy
from dlsuite.apps.gan.models import (
    DCGAN,
    ConditionalGAN,
    build_discriminator,
    build_generator,
    to_uint8,
)
from tests.apps.trace_counts import TraceCounts

IMAGE_SHAPE = (8, 8, 1)
LATENT = 6
CLASSES = 3


def _data(count=8, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count,) + IMAGE_SHAPE).astype("uint8")
    labels = (np.arange(count) % CLASSES).astype("int64")
    return images, labels


def make_gan(conditional, optimizer=lambda: keras.optimizers.SGD(0.1), batch_norm=True,
             dropout=0.0, seed=42):
    """A tiny GAN built from a fixed seed. Dropout off by default: its masks
    differ per replica."""
    keras.utils.set_random_seed(seed)
    classes = CLASSES if conditional else None
    generator = build_generator(LATENT, IMAGE_SHAPE, filters=4, batch_norm=batch_norm,
                                num_classes=classes, label_embedding_dim=3)
    discriminator = build_discriminator(IMAGE_SHAPE, filters=4, dropout=dropout,
                                        num_classes=classes)
    if conditional:
        gan = ConditionalGAN(generator, discriminator, LATENT, num_classes=CLASSES,
                             label_smoothing=0.1, noise_seed=7)
    else:
        gan = DCGAN(generator, discriminator, LATENT, label_smoothing=0.1, noise_seed=7)
    gan.compile(optimizers={"discriminator": optimizer(), "generator": optimizer()})
    gan.build_optimizers()
    return gan


def mirrored_strategy():
    """The runtime's MirroredStrategy over the two logical CPUs (one per
    process: a second one would reuse the first one's collective keys)."""
    return make_strategy("mirrored")


def _inputs(conditional, count=8):
    images, labels = _data(count)
    return (images, labels) if conditional else images


def _dataset(conditional, count=8, batch=8):
    return tf.data.Dataset.from_tensor_slices(_inputs(conditional, count)).batch(batch)


def _weights(gan):
    return [keras.ops.convert_to_numpy(v.value) for v in gan.generator.weights + gan.discriminator.weights]


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "conditional"])
def test_mirrored_first_step_equals_single_device(conditional):
    """Same seed, same global batch of 8: one replica and two replicas of 4
    take the same step, noise and (synchronized) batch norm included."""
    single = make_gan(conditional)
    initial = _weights(single)
    single.fit(_dataset(conditional), epochs=1, verbose=0)

    with mirrored_strategy().scope():
        mirrored = make_gan(conditional)
    for before, after in zip(initial, _weights(mirrored)):
        np.testing.assert_array_equal(before, after)
    mirrored.fit(_dataset(conditional), epochs=1, verbose=0)

    moved = 0.0
    for one, two, before in zip(_weights(single), _weights(mirrored), initial):
        np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
        moved = max(moved, float(np.max(np.abs(one - before))))
    assert moved > 1e-3, "the step must change the weights for the comparison to mean anything"


def test_with_dropout_the_replicas_draw_their_own_masks_so_the_steps_differ():
    """Where step equality stops: per-replica dropout masks (README, "Same
    steps as one process"). The same first step as above, dropout 0.3."""
    single = make_gan(False, dropout=0.3)
    initial = _weights(single)
    single.fit(_dataset(False), epochs=1, verbose=0)
    with mirrored_strategy().scope():
        mirrored = make_gan(False, dropout=0.3)
    mirrored.fit(_dataset(False), epochs=1, verbose=0)
    apart = max(float(np.max(np.abs(one - two)))
                for one, two in zip(_weights(single), _weights(mirrored)))
    moved = max(float(np.max(np.abs(one - before)))
                for one, before in zip(_weights(single), initial))
    # Measured: 9.8e-3 apart for a step that moved the weights by 9.7e-3.
    assert apart > 1e-5 and moved > 1e-3, (apart, moved)


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "conditional"])
def test_mixed_float16_scales_both_losses_and_moves_weights_as_float32(conditional):
    reference = make_gan(conditional)
    initial = _weights(reference)
    reference.fit(_dataset(conditional), epochs=1, verbose=0)
    step32 = [after - before for after, before in zip(_weights(reference), initial)]

    keras.config.set_dtype_policy("mixed_float16")
    mixed = make_gan(conditional)
    for role in ("discriminator", "generator"):
        assert isinstance(mixed.role_optimizers[role], keras.optimizers.LossScaleOptimizer)
    assert mixed.generator.get_layer("up_1").compute_dtype == "float32"
    assert mixed.discriminator.get_layer("down_0").compute_dtype == "float16"
    for before, after in zip(initial, _weights(mixed)):
        np.testing.assert_array_equal(before, after)
    mixed.fit(_dataset(conditional), epochs=1, verbose=0)
    step16 = [after - before for after, before in zip(_weights(mixed), initial)]

    for delta16, delta32 in zip(step16, step32):
        norm = float(np.linalg.norm(delta32))
        if norm == 0:
            continue
        # float16 activations: the same step up to half-precision rounding
        # (a stalled, unscaled step would be all zeros: error 1.0).
        assert np.linalg.norm(delta16 - delta32) / norm < 0.1
    flat16 = np.concatenate([d.ravel() for d in step16])
    flat32 = np.concatenate([d.ravel() for d in step32])
    assert np.corrcoef(flat16, flat32)[0, 1] > 0.99


def test_mixed_bfloat16_trains():
    keras.config.set_dtype_policy("mixed_bfloat16")
    gan = make_gan(True, optimizer=lambda: keras.optimizers.Adam(2e-3, 0.5), dropout=0.3)
    assert not isinstance(gan.role_optimizers["generator"], keras.optimizers.LossScaleOptimizer)
    initial = _weights(gan)
    history = gan.fit(_dataset(True, 16, 8), epochs=2, verbose=0)
    for name in ("discriminator_loss", "generator_loss", "d_real", "d_fake"):
        assert np.all(np.isfinite(history.history[name])), name
    assert all(0.0 <= p <= 1.0 for p in history.history["d_real"])
    changed = [not np.array_equal(a, b) for a, b in zip(initial, _weights(gan))]
    assert all(changed[: len(gan.generator.weights)]), "every generator weight must move"


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "conditional"])
def test_no_retracing_after_the_first_epoch(conditional):
    gan = make_gan(conditional)
    counts = TraceCounts()
    # 20 examples in batches of 8: the last batch of each epoch is partial.
    train = _dataset(conditional, 20, 8)
    gan.fit(train, validation_data=train, epochs=3, verbose=0, callbacks=[counts])
    assert counts.counts[0] > 0
    assert counts.counts == [counts.counts[0]] * 3, f"retraced: {counts.counts}"


@pytest.mark.parametrize("conditional", [False, True], ids=["dcgan", "conditional"])
def test_keras_save_and_load_round_trip(conditional, tmp_path):
    gan = make_gan(conditional, optimizer=lambda: keras.optimizers.Adam(1e-3, 0.5))
    gan.fit(_dataset(conditional), epochs=1, verbose=0)
    path = tmp_path / "gan.keras"
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(gan)
    assert loaded.get_config()["latent_dim"] == LATENT
    noise = np.random.default_rng(3).standard_normal((5, LATENT)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1]) if conditional else None
    np.testing.assert_allclose(np.array(loaded.generate(noise, labels)),
                               np.array(gan.generate(noise, labels)), atol=1e-6)
    for role in ("discriminator", "generator"):
        assert int(loaded.role_optimizers[role].iterations) == 1
    history = loaded.fit(_dataset(conditional), epochs=1, verbose=0)
    assert np.isfinite(history.history["generator_loss"][0])


def test_saved_model_generate_endpoint_round_trip(tmp_path):
    gan = make_gan(True)

    def generate(noise, labels):
        return to_uint8(gan.generate(noise, labels))

    archive = keras.export.ExportArchive()
    archive.track(gan)
    archive.add_endpoint("generate", generate, [
        tf.TensorSpec((None, LATENT), tf.float32, name="noise"),
        tf.TensorSpec((None,), tf.int32, name="labels"),
    ])
    archive.write_out(str(tmp_path / "export"), verbose=False)
    reloaded = tf.saved_model.load(str(tmp_path / "export"))
    noise = tf.random.stateless_normal((3, LATENT), seed=[1, 2])
    labels = tf.constant([2, 0, 1])
    images = reloaded.generate(noise, labels)
    assert images.dtype == tf.uint8 and tuple(images.shape) == (3,) + IMAGE_SHAPE
    np.testing.assert_array_equal(images.numpy(), generate(noise, labels).numpy())


def test_validation_and_missing_labels():
    generator = build_generator(LATENT, IMAGE_SHAPE, filters=4)
    discriminator = build_discriminator(IMAGE_SHAPE, filters=4)
    with pytest.raises(ValueError, match="Received: latent_dim=0"):
        DCGAN(generator, discriminator, 0)
    with pytest.raises(ValueError, match="Received: label_smoothing=1.0"):
        DCGAN(generator, discriminator, LATENT, label_smoothing=1.0)
    with pytest.raises(ValueError, match="Received: num_classes=1"):
        ConditionalGAN(generator, discriminator, LATENT, num_classes=1)
    with pytest.raises(ValueError, match="Received: image_size=5"):
        build_generator(LATENT, (5, 5, 1))
    gan = make_gan(True)
    with pytest.raises(ValueError, match="needs labels"):
        gan.compute_terms("generator", _data()[0], training=True)


def test_discriminator_dropout_before_leaky_relu_computes_the_same_function():
    """build_discriminator puts each Dropout before its LeakyReLU (so the
    graph optimiser never sees Conv+BiasAdd+LeakyReLU, see the builder). With
    the same weights and the same mask it equals the usual order."""
    keras.utils.set_random_seed(0)
    ours = build_discriminator((8, 8, 1), filters=4, dropout=0.5)
    names = [layer.name for layer in ours.layers]
    assert names.index("dropout_0") < names.index("leaky_relu_0")
    assert not any(isinstance(layer, keras.layers.LeakyReLU)
                   and isinstance(layer.input._keras_history[0], keras.layers.Conv2D)
                   for layer in ours.layers)

    images = keras.Input((8, 8, 1))
    x = images
    for index in range(2):
        x = keras.layers.Conv2D(4 * 2**index, 4, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        x = keras.layers.Dropout(0.5)(x)
    usual = keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(x)))
    usual.set_weights(ours.get_weights())

    def dropouts(model):
        return [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]

    for mine, theirs in zip(dropouts(ours), dropouts(usual), strict=True):
        theirs.seed_generator.state.assign(mine.seed_generator.state.value)
    batch = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype("float32")
    kept = ours(batch, training=True)
    np.testing.assert_allclose(kept, usual(batch, training=True), rtol=1e-5, atol=1e-6)
    # Negative control: the masks matter, so equal outputs mean equal masks.
    assert np.max(np.abs(kept - ours(batch, training=False))) > 1e-3
