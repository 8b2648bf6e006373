"""The variational autoencoder: Functional encoder and decoder, one-optimizer model.

Kingma and Welling, "Auto-Encoding Variational Bayes" (2014). The encoder
maps an image to the parameters ``(mu, log_var)`` of ``q(z|x)``; ``z`` is
drawn with the reparameterization trick (``dlsuite.layers.Sampling``); the decoder
maps ``z`` to per-pixel Bernoulli logits (or means, for MSE). Per example::

    loss = reconstruction(x, decoder(z)) + beta * KL(q(z|x) || N(0, I))

With ``beta = 1`` and the BCE reconstruction, ``loss`` is the negative
evidence lower bound (ELBO) in nats, one-sample estimate.
"""

import keras
import tensorflow as tf

from dlsuite.apps.kits.generative.noise import replica_noise
from dlsuite.apps.runtime.custom_step import MultiOptimizerModel
from dlsuite.layers import Sampling
from dlsuite.losses import kl_divergence

RECONSTRUCTIONS = ("bce", "mse")


def build_encoder(image_shape, latent_dim, filters=32, hidden_units=64):
    """Functional encoder: float image in [0, 1] -> (z_mean, z_log_var), float32."""
    images = keras.Input(image_shape, name="images")
    x = images
    size = image_shape[0]
    index = 0
    while size % 2 == 0 and size // 2 >= 2 and index < 2:
        x = keras.layers.Conv2D(filters * 2**index, 3, strides=2, padding="same",
                                activation="relu", name=f"down_{index}")(x)
        size //= 2
        index += 1
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    z_mean = keras.layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(images, [z_mean, z_log_var], name="encoder")


def build_decoder(image_shape, latent_dim, filters=32, hidden_units=64):
    """Functional decoder: z -> float32 per-pixel logits of the image."""
    height, width, channels = image_shape
    steps = 0
    size = height
    while size % 2 == 0 and size // 2 >= 2 and steps < 2:
        size //= 2
        steps += 1
    start_h, start_w = height // 2**steps, width // 2**steps
    width0 = filters * 2 ** max(steps - 1, 0)
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(z)
    x = keras.layers.Dense(start_h * start_w * width0, activation="relu", name="project")(x)
    x = keras.layers.Reshape((start_h, start_w, width0), name="to_map")(x)
    for index in range(steps):
        x = keras.layers.Conv2DTranspose(width0 // 2**index, 3, strides=2, padding="same",
                                         activation="relu", name=f"up_{index}")(x)
    logits = keras.layers.Conv2D(channels, 3, padding="same", dtype="float32",
                                 name="logits")(x)
    return keras.Model(z, logits, name="decoder")


def to_unit_interval(images):
    """uint8 [0, 255] -> float32 [0, 1]; float input is taken as already scaled."""
    images = tf.convert_to_tensor(images)
    if images.dtype.is_integer:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def to_uint8(images):
    """float [0, 1] -> uint8 [0, 255], rounded and clipped."""
    scaled = tf.cast(images, tf.float32) * 255.0
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


@keras.saving.register_keras_serializable(package="dlsuite")
class VAE(MultiOptimizerModel):
    """Variational autoencoder trained on ``reconstruction + beta * KL``.

    Logged per epoch: ``loss`` (the negative ELBO when ``beta = 1`` with
    BCE), ``reconstruction_loss`` and ``kl_loss``, all in nats per example.
    ``fit`` data is a batch of images (uint8, or floats in ``[0, 1]``), or a
    dict ``{"images": ..., "epsilon": ...}`` to supply the noise.

    Example::

        vae = VAE(build_encoder((8, 8, 1), 2), build_decoder((8, 8, 1), 2))
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae.build_optimizers()
        vae.fit(uint8_images, epochs=1)
    """

    roles = ("model",)
    logged_terms = {"model": ("reconstruction_loss", "kl_loss")}

    def __init__(self, encoder, decoder, beta=1.0, reconstruction="bce", noise_seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0. Received: beta={beta}")
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction must be one of {RECONSTRUCTIONS}. "
                             f"Received: reconstruction={reconstruction!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.noise_seed = int(noise_seed)
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        self.sampling = Sampling(seed=self.noise_seed, name="sampling")
        self.trace_count = 0
        self.built = True

    def unpack(self, data):
        epsilon = None
        if isinstance(data, (tuple, list)):
            data, _, _ = keras.utils.unpack_x_y_sample_weight(tuple(data))
        if isinstance(data, dict):
            epsilon = data.get("epsilon")
            data = data["images"]
        return to_unit_interval(data), epsilon

    # -- inference --------------------------------------------------------------
    def encode(self, images, training=False):
        """(z_mean, z_log_var) of uint8 or [0, 1] images."""
        return self.encoder(to_unit_interval(images), training=training)

    def decode(self, z, training=False):
        """Images in [0, 1] (Bernoulli means for BCE, clipped means for MSE)."""
        output = tf.cast(self.decoder(z, training=training), tf.float32)
        if self.reconstruction == "bce":
            return tf.sigmoid(output)
        return tf.clip_by_value(output, 0.0, 1.0)

    def call(self, inputs, training=False):
        """Reconstruction through the posterior mean."""
        z_mean, _ = self.encode(inputs, training=training)
        return self.decode(z_mean, training=training)

    # -- MultiOptimizerModel ------------------------------------------------------
    def role_variables(self, role):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def reconstruction_terms(self, images, output):
        """Per-example reconstruction loss summed over pixels (float32)."""
        output = tf.cast(output, tf.float32)
        if self.reconstruction == "bce":
            per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=output)
        else:
            per_pixel = tf.square(images - output)
        return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(images)[0], -1]), axis=1)

    def compute_terms(self, role, data, training, shared=None):
        self.trace_count += 1
        images, epsilon = self.unpack(data)
        z_mean, z_log_var = self.encoder(images, training=training)
        if epsilon is None:
            step = self.role_optimizers[role].iterations
            epsilon = replica_noise(tf.shape(images)[0], self.latent_dim, self.noise_seed,
                                    step, 0 if training else 2)
        z = self.sampling([z_mean, z_log_var], epsilon=epsilon)
        output = self.decoder(z, training=training)
        reconstruction = self.reconstruction_terms(images, output)
        kl = kl_divergence(z_mean, z_log_var)
        return {
            "loss": reconstruction + self.beta * kl,
            "reconstruction_loss": reconstruction,
            "kl_loss": kl,
        }

    # -- saving -------------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "noise_seed": self.noise_seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
