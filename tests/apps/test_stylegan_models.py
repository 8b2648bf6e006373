"""StyleGAN under tf.distribute, mixed precision and saving; style mixing,
truncation and the lazy R1 penalty."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.gan.style_networks import (build_mapping, build_style_discriminator, build_synthesis,
                                     noise_shapes, num_styles)
from dlsuite.apps.gan.stylegan import StyleGAN, StyleGenerator
from dlsuite.apps.runtime import safe_load
from dlsuite.apps.runtime.distribute import make_strategy
from tests.apps.trace_counts import TraceCounts

SIZE = 8
IMAGE_SHAPE = (SIZE, SIZE, 1)
LATENT = 6
LAYERS = num_styles(SIZE)  # 4


def make_stylegan(optimizer=lambda: keras.optimizers.SGD(0.01), r1_gamma=10.0, r1_interval=2,
                  style_mixing=0.9, seed=42, ema_half_life=0, ema_rampup=0.0):
    keras.utils.set_random_seed(seed)
    generator = StyleGenerator(build_mapping(LATENT, 6, 2),
                               build_synthesis(SIZE, 1, 6, filters=4, max_filters=8),
                               w_avg_beta=0.9, noise_seed=5, ema_half_life=ema_half_life,
                               ema_rampup=ema_rampup, name="generator")
    discriminator = build_style_discriminator(IMAGE_SHAPE, filters=4, max_filters=8, group_size=4)
    gan = StyleGAN(generator, discriminator, LATENT, r1_gamma=r1_gamma, r1_interval=r1_interval,
                   style_mixing=style_mixing, noise_seed=7)
    gan.compile(optimizers={"discriminator": optimizer(), "generator": optimizer()})
    gan.build_optimizers()
    return gan


def _images(count=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count,) + IMAGE_SHAPE).astype("uint8")


def _dataset(count=8, batch=8):
    return tf.data.Dataset.from_tensor_slices(_images(count)).batch(batch)


def _weights(gan):
    return [keras.ops.convert_to_numpy(v.value) for v in gan.generator.weights
            + gan.discriminator.weights]


def _noise(count, seed):
    return np.random.default_rng(seed).standard_normal((count, LATENT)).astype("float32")


def test_mirrored_first_steps_equal_single_device():
    """One replica and two replicas of 4 take the same first two steps: both
    codes, the style-mixing choices, the per-layer noise, the minibatch
    deviation groups, w_avg, the generator's moving average and the R1
    penalty (step 0 is a penalty step)."""
    single = make_stylegan(ema_half_life=16)
    initial = _weights(single)
    single.fit(_dataset(16), epochs=1, verbose=0)

    with make_strategy("mirrored").scope():
        mirrored = make_stylegan(ema_half_life=16)
    for before, after in zip(initial, _weights(mirrored)):
        np.testing.assert_array_equal(before, after)
    history = mirrored.fit(_dataset(16), epochs=1, verbose=0)
    assert history.history["r1_penalty"][0] > 0

    moved = 0.0
    for one, two, before in zip(_weights(single), _weights(mirrored), initial):
        np.testing.assert_allclose(two, one, rtol=0, atol=1e-5)
        moved = max(moved, float(np.max(np.abs(one - before))))
    assert moved > 1e-3, "the step must change the weights for the comparison to mean anything"
    assert np.abs(single.generator.w_avg.numpy()).max() > 1e-3, "w_avg moved"


def test_style_mixing_draws_the_same_choices_on_every_replica():
    """The crossover layers of a step are a function of (seed, step) and the
    example's place in the GLOBAL batch."""
    gan = make_stylegan()
    noise = tf.constant(_noise(8, 0))

    def styles():
        return gan._training_styles(noise, tf.shape(noise)[0], tf.constant(3, tf.int64),
                                    training=True)

    single = styles().numpy()
    strategy = make_strategy("mirrored")
    with strategy.scope():
        gan = make_stylegan()
    halves = strategy.experimental_local_results(strategy.run(
        lambda: gan._training_styles(
            noise[4 * tf.distribute.get_replica_context().replica_id_in_sync_group:][:4],
            4, tf.constant(3, tf.int64), training=True)))
    np.testing.assert_allclose(np.concatenate([h.numpy() for h in halves]), single, atol=1e-6)
    # Some examples mix (their last style differs from their first), some not.
    mixed = np.any(np.abs(single[:, 0] - single[:, -1]) > 1e-6, axis=1)
    assert mixed.any(), "with style_mixing=0.9 some of 8 examples mix"


def test_mixed_float16_scales_both_optimizers_and_the_penalty_and_moves_like_float32():
    reference = make_stylegan(r1_gamma=10.0)
    initial = _weights(reference)
    reference.fit(_dataset(), epochs=1, verbose=0)
    step32 = [after - before for after, before in zip(_weights(reference), initial)]
    penalty32 = float(reference.get_metrics_result()["r1_penalty"])

    keras.config.set_dtype_policy("mixed_float16")
    # A first step that fits float16 (the default initial scale, 2^15,
    # overflows this discriminator's gradients: a skipped step, then a
    # halved scale, as dynamic loss scaling does).
    mixed = make_stylegan(r1_gamma=10.0, optimizer=lambda: keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.01), initial_scale=2.0**10))
    for role in ("discriminator", "generator"):
        assert isinstance(mixed.role_optimizers[role], keras.optimizers.LossScaleOptimizer)
    assert mixed.discriminator.get_layer("conv_8_0").compute_dtype == "float16"
    assert mixed.generator.synthesis.get_layer("conv_8_1").compute_dtype == "float16"
    for before, after in zip(initial, _weights(mixed)):
        np.testing.assert_array_equal(before, after)
    mixed.fit(_dataset(), epochs=1, verbose=0)
    penalty16 = float(mixed.get_metrics_result()["r1_penalty"])
    step16 = [after - before for after, before in zip(_weights(mixed), initial)]

    # The penalty (its inner gradient taken in float16, loss-scaled) is the
    # float32 one up to half-precision rounding.
    assert penalty32 > 0 and abs(penalty16 - penalty32) / penalty32 < 0.05, (penalty16, penalty32)
    images = mixed.generate(_noise(3, 0), truncation_psi=0.7)
    assert images.dtype == tf.float32 and np.all(np.isfinite(images.numpy()))
    flat16 = np.concatenate([d.ravel() for d in step16])
    flat32 = np.concatenate([d.ravel() for d in step32])
    assert np.linalg.norm(flat16 - flat32) / np.linalg.norm(flat32) < 0.1
    assert np.corrcoef(flat16, flat32)[0, 1] > 0.99


def test_the_r1_penalty_is_lazy_and_moves_the_discriminator():
    with_penalty = make_stylegan(r1_gamma=10.0, r1_interval=2)
    without = make_stylegan(r1_gamma=0.0)
    batch = _images(8)
    first = with_penalty.train_on_batch(batch, return_dict=True)
    without.train_on_batch(batch)
    # Step 0 is a penalty step: the same start, and only the penalty differs.
    apart = max(float(np.max(np.abs(a - b))) for a, b in zip(
        [w.numpy() for w in with_penalty.discriminator.weights],
        [w.numpy() for w in without.discriminator.weights]))
    assert first["r1_penalty"] > 0 and apart > 1e-4
    with_penalty.reset_metrics()
    second = with_penalty.train_on_batch(batch, return_dict=True)
    assert second["r1_penalty"] == 0.0, "step 1 is no penalty step"
    with_penalty.reset_metrics()
    evaluated = with_penalty.evaluate(batch, batch_size=8, verbose=0, return_dict=True)
    assert evaluated["r1_penalty"] > 0, "evaluation reports the average per-step penalty"


@pytest.fixture(scope="module")
def trained():
    """A StyleGAN after 3 epochs of 20 examples in batches of 8 (the last
    batch of each epoch partial), with validation; trace counts per epoch."""
    gan = make_stylegan(optimizer=lambda: keras.optimizers.Adam(1e-3, 0.0, 0.99))
    counts = TraceCounts()
    train = _dataset(20, 8)
    gan.fit(train, validation_data=train, epochs=3, verbose=0, callbacks=[counts])
    return gan, counts.counts


def test_no_retracing_after_the_first_epoch(trained):
    _, counts = trained
    assert counts[0] > 0
    assert counts == [counts[0]] * 3, f"retraced: {counts}"


def test_mix_at_the_first_and_last_layers(trained):
    gan, _ = trained
    a, b = _noise(3, 1), _noise(3, 2)
    image_a, image_b = gan.generate(a).numpy(), gan.generate(b).numpy()
    np.testing.assert_allclose(gan.mix(a, b, 0).numpy(), image_b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gan.mix(a, b, LAYERS).numpy(), image_a, rtol=1e-5, atol=1e-6)
    # Crossover at the last layer: noise_a's styles up to the last one, the
    # last (the last toRGB's) from noise_b.
    w_a, w_b = gan.map(a), gan.map(b)
    styles = tf.concat([tf.repeat(w_a[:, None], LAYERS - 1, axis=1), w_b[:, None]], axis=1)
    last = gan.mix(a, b, LAYERS - 1).numpy()
    np.testing.assert_allclose(last, gan.generator.synthesize(styles).numpy(), rtol=1e-5,
                               atol=1e-6)
    assert np.abs(last - image_a).max() > 1e-5, "the last style must matter"
    assert np.abs(last - image_a).max() < np.abs(image_b - image_a).max()


class _GeneratorWeights(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.after_first = [w.numpy() for w in self.model.generator.mapping.weights]


def test_generator_moving_average_and_inference_uses_it():
    gan = make_stylegan(ema_half_life=16, ema_rampup=0.0)  # beta = 0.5 ** (8 / 16)
    initial = [w.numpy() for w in gan.generator.mapping.weights]
    recorder = _GeneratorWeights()
    gan.fit(_dataset(8), epochs=1, verbose=0, callbacks=[recorder])
    first = recorder.after_first
    gan.fit(_dataset(8), epochs=1, verbose=0)  # step 1 averages the weights after step 0
    beta = 0.5 ** 0.5
    for average, start, after in zip(gan.generator.mapping_ema.weights, initial, first):
        np.testing.assert_allclose(average.numpy(), after + beta * (start - after), rtol=1e-5,
                                   atol=1e-5)
    assert not gan.generator.mapping_ema.trainable_weights
    assert len(gan.generator.trainable_weights) == len(gan.generator.mapping.weights
                                                       + gan.generator.synthesis.weights)
    generator, noise = gan.generator, _noise(3, 5)
    np.testing.assert_allclose(gan.map(noise).numpy(), generator.mapping_ema(noise).numpy(),
                               rtol=1e-5, atol=1e-6)

    def image(mapping, synthesis):
        w = mapping(noise)
        return synthesis([w] * LAYERS + generator.fixed_noise_maps()).numpy()

    averaged = image(generator.mapping_ema, generator.synthesis_ema)
    np.testing.assert_allclose(gan.generate(noise).numpy(), averaged, rtol=1e-5, atol=1e-6)
    assert np.abs(image(generator.mapping, generator.synthesis) - averaged).max() > 1e-4


def test_w_avg_tracks_the_mean_w():
    gan = make_stylegan()
    generator = gan.generator
    assert np.all(generator.w_avg.numpy() == 0)
    w = tf.constant(np.random.default_rng(0).standard_normal((8, 6)), tf.float32)
    generator.track_w_avg(w)  # beta 0.9: one update from zero is 0.1 * mean(w)
    np.testing.assert_allclose(generator.w_avg.numpy(), 0.1 * w.numpy().mean(axis=0), rtol=1e-5)
    generator.track_w_avg(w)
    np.testing.assert_allclose(generator.w_avg.numpy(), 0.19 * w.numpy().mean(axis=0), rtol=1e-5)


def test_truncation(trained):
    gan, _ = trained
    assert np.abs(gan.generator.w_avg.numpy()).max() > 1e-3, "training tracked w_avg"
    noise = _noise(8, 3)
    average = gan.generate(noise, truncation_psi=0.0).numpy()
    np.testing.assert_allclose(average, np.repeat(average[:1], 8, axis=0), rtol=1e-5, atol=1e-5)
    w_avg_image = gan.generator.synthesize(
        tf.repeat(gan.generator.w_avg[None, None], LAYERS, axis=1)).numpy()
    np.testing.assert_allclose(average[:1], w_avg_image, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gan.generate(noise, truncation_psi=1.0).numpy(),
                               gan.generate(noise).numpy(), atol=1e-6)
    spread = [gan.generate(noise, truncation_psi=psi).numpy().std(axis=0).mean()
              for psi in (0.5, 1.0)]
    assert 1e-3 < spread[0] < spread[1]
    # The same inputs give the same images (fixed noise maps at inference).
    np.testing.assert_array_equal(gan.generate(noise).numpy(), gan.generate(noise).numpy())


def test_keras_file_round_trip_in_safe_mode(trained, tmp_path):
    gan, _ = trained
    path = tmp_path / "stylegan.keras"
    gan.save(path)
    loaded = safe_load.load_model(path)
    assert type(loaded) is StyleGAN and type(loaded.generator) is StyleGenerator
    assert loaded.get_config()["r1_interval"] == 2
    np.testing.assert_array_equal(loaded.generator.w_avg.numpy(), gan.generator.w_avg.numpy())
    noise = _noise(5, 4)
    np.testing.assert_allclose(loaded.generate(noise, truncation_psi=0.7).numpy(),
                               gan.generate(noise, truncation_psi=0.7).numpy(), atol=1e-6)
    np.testing.assert_allclose(loaded.mix(noise, noise[::-1], 2).numpy(),
                               gan.mix(noise, noise[::-1], 2).numpy(), atol=1e-6)
    for role in ("discriminator", "generator"):
        assert int(loaded.role_optimizers[role].iterations) == 9  # 3 epochs of 3 steps


def test_networks_shapes_and_validation():
    synthesis = build_synthesis(32, 3, 8, filters=4, max_filters=16)
    assert num_styles(32) == 8 and len(noise_shapes(32)) == 7
    assert [t.name for t in synthesis.inputs][:2] == ["style_0", "style_1"]
    assert tuple(synthesis.outputs[0].shape) == (None, 32, 32, 3)
    assert synthesis.get_layer("conv_32_1").filters == 4
    assert synthesis.get_layer("conv_4").filters == 16
    with pytest.raises(ValueError, match="Received: image_size=28"):
        num_styles(28)
    generator = StyleGenerator(build_mapping(LATENT, 6, 1), build_synthesis(SIZE, 1, 6, 4, 8))
    discriminator = build_style_discriminator(IMAGE_SHAPE, 4, 8)
    with pytest.raises(ValueError, match="Received: w_avg_beta=1.0"):
        StyleGenerator(generator.mapping, generator.synthesis, w_avg_beta=1.0)
    for kwargs, message in (({"r1_gamma": -1.0}, "Received: r1_gamma=-1.0"),
                            ({"r1_interval": 0}, "Received: r1_interval=0"),
                            ({"style_mixing": 1.5}, "Received: style_mixing=1.5")):
        with pytest.raises(ValueError, match=message):
            StyleGAN(generator, discriminator, LATENT, **kwargs)
    with pytest.raises(ValueError, match="must be a StyleGenerator"):
        StyleGAN(generator.synthesis, discriminator, LATENT)
