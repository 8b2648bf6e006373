"""StyleGAN: the style-based generator and its two-optimizer training model.

``StyleGenerator`` holds the mapping and synthesis networks
(``dlsuite.apps.gan.style_networks``) and the running average of ``w`` for the
truncation trick; ``StyleGAN`` trains it against a discriminator on the
runtime's ``MultiOptimizerModel`` (through ``DCGAN``, whose batch
unpacking and noise it shares), with

* the non-saturating logistic loss (StyleGAN2's; ``dlsuite.losses.generator_loss``
  and ``dlsuite.losses.discriminator_loss``),
* the R1 penalty on real images, lazily: every ``r1_interval`` discriminator
  steps, times ``r1_interval`` (``dlsuite.losses.r1_penalty``; the nested gradient
  through ``MultiOptimizerModel.input_gradient``, loss-scaled under
  mixed_float16),
* style mixing regularisation: with probability ``style_mixing`` an
  example's styles switch from ``w_1 = f(z_1)`` to ``w_2 = f(z_2)`` at a
  random layer, so that neighbouring styles cannot rely on each other,
* per-layer noise, and ``w_avg`` tracked as a moving average of ``w``.

Every random choice of a step (both codes, the mixing choice and layer,
the noise maps) is drawn for the GLOBAL batch from ``(noise_seed, step)``
and each replica keeps its rows (``dlsuite.apps.kits.generative.noise``), so one replica and N
replicas take the same step. Inference (``generate``, ``mix``, the
exports) uses a fixed noise map per layer (StyleGAN2's "const" noise
mode), so the same inputs always give the same images.
"""

import keras
import tensorflow as tf

from dlsuite.apps.gan.models import DCGAN, from_config_with_models
from dlsuite.apps.kits.generative.noise import replica_noise, replica_uniform
from dlsuite.losses import discriminator_loss, generator_loss, r1_penalty

# Seed stream of the inference noise maps (training uses the step's streams).
FIXED_NOISE_STREAM = 1_000_003


@keras.saving.register_keras_serializable(package="dlsuite")
class StyleGenerator(keras.Model):
    """``mapping`` (z -> w) and ``synthesis`` (styles, noise -> image), with
    ``w_avg`` for the truncation trick.

    ``w_avg`` is a float32 moving average of the ``w`` of every training
    batch, ``w_avg <- beta * w_avg + (1 - beta) * mean(w)``, over the
    global batch (an all-reduce under ``tf.distribute``); the truncation
    trick (Karras et al., 2019, section 2.1) draws ``w' = w_avg + psi (w -
    w_avg)``: ``psi = 0`` gives the average image, ``psi = 1`` the untruncated
    one. Called on noise it returns float32 images with the fixed noise maps.

    With ``ema_half_life`` (in images; 0 = off) it also keeps an
    exponential moving average of the mapping and synthesis weights
    (Karras et al., 2018, appendix; StyleGAN2's ``G_ema``), in copies of the
    two networks that every inference call uses (``generate``, ``mix``,
    ``map``, the exports), while training moves the originals. After each
    step's batch of ``B`` images ``ema <- beta ema + (1 - beta) weights``
    with ``beta = 0.5 ** (B / h)``, ``h = min(ema_half_life, ema_rampup *
    images seen)``: the average starts short and lengthens as training
    goes. The update runs at the start of the next step (one step late).

    Example::

        generator = StyleGenerator(build_mapping(16, 16, 2),
                                   build_synthesis(8, 1, 16, 4, 8))
        images = generator(z, truncation_psi=0.7)
    """

    def __init__(self, mapping, synthesis, w_avg_beta=0.995, noise_seed=0, ema_half_life=0,
                 ema_rampup=0.05, **kwargs):
        # The container computes in float32 (noise in, truncation); mapping
        # and synthesis follow the dtype policy they were built under.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if not 0.0 <= w_avg_beta < 1.0:
            raise ValueError(f"w_avg_beta must be in [0, 1). Received: w_avg_beta={w_avg_beta}")
        if not ema_half_life >= 0 or not 0.0 <= ema_rampup:
            raise ValueError("ema_half_life and ema_rampup must be >= 0. Received: "
                             f"ema_half_life={ema_half_life}, ema_rampup={ema_rampup}")
        self.mapping = mapping
        self.synthesis = synthesis
        self.w_avg_beta = float(w_avg_beta)
        self.noise_seed = int(noise_seed)
        self.ema_half_life = float(ema_half_life)
        self.ema_rampup = float(ema_rampup)
        self.mapping_ema = self.synthesis_ema = None
        if self.ema_half_life:
            self.mapping_ema = _frozen_copy(mapping, f"{mapping.name}_ema")
            self.synthesis_ema = _frozen_copy(synthesis, f"{synthesis.name}_ema")
        self.latent_dim = int(mapping.inputs[0].shape[-1])
        self.w_dim = int(mapping.outputs[0].shape[-1])
        style_inputs = [t for t in synthesis.inputs if t.name.startswith("style_")]
        self.num_styles = len(style_inputs)
        self.noise_shapes = [tuple(int(s) for s in t.shape[1:]) for t in synthesis.inputs
                             if t.name.startswith("noise_")]
        if self.num_styles < 2 or self.num_styles + len(self.noise_shapes) != len(synthesis.inputs):
            raise ValueError("synthesis must take inputs style_0.. and noise_0.. "
                             f"(build_synthesis). Received: {[t.name for t in synthesis.inputs]}")
        # float32 whatever the policy; "mean": every replica assigns the same value.
        self.w_avg = self.add_weight(name="w_avg", shape=(self.w_dim,), initializer="zeros",
                                     trainable=False, autocast=False, dtype="float32",
                                     aggregation="mean")
        self.built = True

    # -- pieces ---------------------------------------------------------------
    def _networks(self, training):
        """(mapping, synthesis): the trained ones, or their averages for inference."""
        if training or self.mapping_ema is None:
            return self.mapping, self.synthesis
        return self.mapping_ema, self.synthesis_ema

    def map(self, noise, training=False):
        """``z -> w`` (float32)."""
        mapping = self._networks(training)[0]
        return tf.cast(mapping(tf.cast(noise, tf.float32), training=training), tf.float32)

    def update_ema(self, step, global_batch):
        """Move the averaged networks towards the trained ones (one step's
        worth, ``step`` steps of ``global_batch`` images seen)."""
        if self.mapping_ema is None:
            return
        batch = tf.cast(global_batch, tf.float32)
        half_life = tf.constant(self.ema_half_life, tf.float32)
        if self.ema_rampup:
            seen = tf.cast(step, tf.float32) * batch
            half_life = tf.minimum(half_life, tf.maximum(seen * self.ema_rampup, 1e-8))
        beta = tf.pow(0.5, batch / half_life)
        for average, weight in _paired_weights(self):
            average.assign(weight + beta * (average - weight))

    def truncate(self, w, truncation_psi):
        """``w_avg + psi (w - w_avg)``."""
        psi = tf.cast(truncation_psi, tf.float32)
        return self.w_avg + psi * (w - self.w_avg)

    def track_w_avg(self, w):
        """Move ``w_avg`` towards the global batch's mean ``w`` (training only)."""
        w = tf.stop_gradient(tf.cast(w, tf.float32))
        total = tf.reduce_sum(w, axis=0)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            total = context.all_reduce("sum", total)
        mean = total / _global_count(tf.shape(w)[0])
        self.w_avg.assign(mean + self.w_avg_beta * (self.w_avg - mean))

    def mixed_styles(self, w_first, w_second, crossover):
        """``(batch, L, w_dim)`` styles: layer ``i`` of example ``b`` takes
        ``w_first[b]`` if ``i < crossover[b]``, else ``w_second[b]``.
        ``crossover`` is ``(batch,)`` or a scalar, in ``[0, L]``."""
        layers = tf.range(self.num_styles)[None, :]
        crossover = tf.reshape(tf.cast(crossover, tf.int32), [-1, 1])
        first = (layers < crossover)[:, :, None]
        return tf.where(first, w_first[:, None, :], w_second[:, None, :])

    def fixed_noise_maps(self):
        """One ``(1, size, size, 1)`` map per noise layer, the same every call."""
        return [tf.random.stateless_normal((1, *shape), seed=[self.noise_seed,
                                                              FIXED_NOISE_STREAM + index])
                for index, shape in enumerate(self.noise_shapes)]

    def synthesize(self, styles, noise_maps=None, training=False):
        """Float32 images from ``(batch, L, w_dim)`` styles and noise maps
        (the fixed ones by default)."""
        styles = tf.cast(styles, tf.float32)
        noise_maps = self.fixed_noise_maps() if noise_maps is None else noise_maps
        inputs = [styles[:, index] for index in range(self.num_styles)] + list(noise_maps)
        return self._networks(training)[1](inputs, training=training)

    # -- what users call ---------------------------------------------------------
    def call(self, noise, training=False, truncation_psi=1.0):
        w = self.truncate(self.map(noise, training=training), truncation_psi)
        return self.synthesize(self.mixed_styles(w, w, self.num_styles), training=training)

    def mix(self, noise_a, noise_b, crossover_layer, truncation_psi=1.0):
        """Images whose styles ``0 .. crossover_layer - 1`` (the coarse ones)
        come from ``noise_a`` and the rest from ``noise_b``: crossover 0 is
        ``noise_b``'s image, crossover ``L`` is ``noise_a``'s."""
        w_a = self.truncate(self.map(noise_a), truncation_psi)
        w_b = self.truncate(self.map(noise_b), truncation_psi)
        return self.synthesize(self.mixed_styles(w_a, w_b, crossover_layer))

    # -- saving ---------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "mapping": keras.saving.serialize_keras_object(self.mapping),
            "synthesis": keras.saving.serialize_keras_object(self.synthesis),
            "w_avg_beta": self.w_avg_beta,
            "noise_seed": self.noise_seed,
            "ema_half_life": self.ema_half_life,
            "ema_rampup": self.ema_rampup,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_models(cls, config, ("mapping", "synthesis"))


def _global_count(local_count):
    """The sum of ``local_count`` over the replicas (float32)."""
    count = tf.cast(local_count, tf.float32)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce("sum", count)
    return count


def _frozen_copy(network, name):
    """A non-trainable copy of a Functional ``network`` (same weights), named ``name``."""
    config = network.get_config()
    config["name"] = name
    copy = network.__class__.from_config(config)
    copy.set_weights(network.get_weights())
    copy.trainable = False
    return copy


def _paired_weights(generator):
    """(averaged, trained) float weights of the generator's two networks."""
    pairs = []
    for live, average in ((generator.mapping, generator.mapping_ema),
                          (generator.synthesis, generator.synthesis_ema)):
        for live_layer, average_layer in zip(live.layers, average.layers, strict=True):
            weights = [w for w in live_layer.weights if w.dtype.startswith("float")]
            averages = [w for w in average_layer.weights if w.dtype.startswith("float")]
            pairs += list(zip(averages, weights, strict=True))
    return pairs


@keras.saving.register_keras_serializable(package="dlsuite")
class StyleGAN(DCGAN):
    """A ``StyleGenerator`` against a discriminator, StyleGAN2's losses and
    regularisers (module docstring).

    Per step: the discriminator minimises ``softplus(D(G(z))) +
    softplus(-D(x))`` plus, every ``r1_interval``-th step, ``r1_interval *
    gamma / 2 * |dD(x)/dx|^2``; then the generator minimises
    ``softplus(-D(G(z)))`` through the updated discriminator, on the same
    generated batch.

    Logged: ``discriminator_loss`` (the penalty included), ``generator_loss``,
    ``d_real``, ``d_fake`` and ``r1_penalty``: the applied penalty (zero
    between penalty steps, ``r1_interval`` times the penalty on them), whose
    epoch mean is the average per-step penalty.

    Example::

        gan = StyleGAN(StyleGenerator(mapping, synthesis), discriminator, latent_dim=16)
        gan.compile(optimizers={"discriminator": keras.optimizers.Adam(2e-4, 0.0, 0.99),
                                "generator": keras.optimizers.Adam(2e-3, 0.0, 0.99)})
        gan.build_optimizers()
        gan.fit(uint8_images, epochs=1)
    """

    logged_terms = {"discriminator": ("d_real", "d_fake", "r1_penalty")}

    def __init__(self, generator, discriminator, latent_dim, r1_gamma=1.0, r1_interval=16,
                 style_mixing=0.9, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        if not isinstance(generator, StyleGenerator):
            raise ValueError(f"generator must be a StyleGenerator. Received: generator={generator}")
        if not r1_gamma >= 0:
            raise ValueError(f"r1_gamma must be >= 0. Received: r1_gamma={r1_gamma}")
        if isinstance(r1_interval, bool) or not isinstance(r1_interval, int) or r1_interval < 1:
            raise ValueError(f"r1_interval must be a positive int. Received: r1_interval={r1_interval}")
        if not 0.0 <= style_mixing <= 1.0:
            raise ValueError(f"style_mixing must be in [0, 1]. Received: style_mixing={style_mixing}")
        self.r1_gamma = float(r1_gamma)
        self.r1_interval = r1_interval
        self.style_mixing = float(style_mixing)

    # -- pieces ---------------------------------------------------------------
    def generate(self, noise, labels=None, training=False, truncation_psi=1.0):
        """Float32 images in about ``[-1, 1]`` (fixed noise maps)."""
        return self.generator(noise, training=training, truncation_psi=truncation_psi)

    def mix(self, noise_a, noise_b, crossover_layer, truncation_psi=1.0):
        return self.generator.mix(noise_a, noise_b, crossover_layer, truncation_psi)

    def map(self, noise):
        return self.generator.map(noise)

    def _noise_maps(self, batch, step, stream):
        """This replica's rows of the global batch's per-layer noise maps."""
        shapes = self.generator.noise_shapes
        sizes = [h * w * c for h, w, c in shapes]
        flat = replica_noise(batch, sum(sizes), self.noise_seed, step, stream)
        parts = tf.split(flat, sizes, axis=1)
        return [tf.reshape(part, [-1, *shape]) for part, shape in zip(parts, shapes)]

    def _training_styles(self, noise, batch, step, training):
        """Styles of a step; while training, mixed and ``w_avg`` tracked."""
        generator = self.generator
        w = generator.map(noise, training=training)
        if not training:
            return generator.mixed_styles(w, w, generator.num_styles)
        generator.track_w_avg(w)
        second = generator.map(replica_noise(batch, self.latent_dim, self.noise_seed, step, 1),
                               training=True)
        choice = replica_uniform(batch, 2, self.noise_seed, step, 2)
        layers = generator.num_styles
        # A crossover in [1, L - 1] with probability style_mixing, else none (L).
        layer = 1 + tf.cast(tf.floor(choice[:, 1] * (layers - 1)), tf.int32)
        crossover = tf.where(choice[:, 0] < self.style_mixing, tf.minimum(layer, layers - 1),
                             layers)
        return generator.mixed_styles(w, second, crossover)

    def regularize_now(self):
        """True on the discriminator's steps 0, r1_interval, 2 r1_interval, ..."""
        step = self.role_optimizers["discriminator"].iterations
        return tf.equal(step % self.r1_interval, 0)

    def penalty(self, images, training):
        """Per-example R1 penalty (times ``r1_interval``) on real ``images``."""
        gradients = self.input_gradient(
            "discriminator", lambda x: self.discriminator(x, training=training), images)
        return r1_penalty(gradients, self.r1_gamma, self.r1_interval)

    # -- MultiOptimizerModel --------------------------------------------------
    def shared_forward(self, data, training):
        images, _, noise = self.unpack(data)
        batch = tf.shape(images)[0]
        step = self.role_optimizers[self.roles[0]].iterations
        if training:
            self.generator.update_ema(step, _global_count(batch))
        if noise is None:
            noise = replica_noise(batch, self.latent_dim, self.noise_seed, step,
                                  0 if training else 4)
        styles = self._training_styles(noise, batch, step, training)
        noise_maps = self._noise_maps(batch, step, 3 if training else 5)
        fake = self.generator.synthesize(styles, noise_maps, training=training)
        return {"images": images, "fake": fake}

    def compute_terms(self, role, data, training, shared=None):
        self.trace_count += 1
        if shared is None:
            shared = self.shared_forward(data, training)
        images, fake = shared["images"], shared["fake"]
        if role == "generator":
            return {"loss": generator_loss(self.discriminator(fake, training=training))}
        fake_logits = self.discriminator(tf.stop_gradient(fake), training=training)
        real_logits = self.discriminator(images, training=training)
        loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
        batch = tf.shape(images)[0]
        if self.r1_gamma == 0:
            penalty = tf.zeros([batch])
        elif training:
            penalty = tf.cond(self.regularize_now(), lambda: self.penalty(images, training),
                              lambda: tf.zeros([batch]))
        else:  # evaluation: the average per-step penalty, every batch
            penalty = self.penalty(images, training) / self.r1_interval
        return {
            "loss": loss + penalty,
            "d_real": tf.sigmoid(tf.reshape(tf.cast(real_logits, tf.float32), [-1])),
            "d_fake": tf.sigmoid(tf.reshape(tf.cast(fake_logits, tf.float32), [-1])),
            "r1_penalty": penalty,
        }

    # -- saving ---------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update({"r1_gamma": self.r1_gamma, "r1_interval": self.r1_interval,
                       "style_mixing": self.style_mixing})
        return config
