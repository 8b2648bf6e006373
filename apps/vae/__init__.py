"""``vae``: a convolutional variational autoencoder (``dlsuite.apps.vae.models``).

Loss per example = reconstruction (binary cross-entropy or squared error,
summed over pixels) + ``beta`` * KL(q(z|x) || N(0, I)), each term logged.
With ``beta = 1`` and BCE the logged ``loss`` is the negative ELBO, so
``val_loss`` is the dev set's -ELBO every epoch and the report gives the
test ELBO. Every epoch TensorBoard gets reconstructions of fixed dev images
and a 2-D latent traversal grid; samples from the prior are measured with
the GAN app's reference classifier (``dlsuite.apps.kits.generative.quality``). The export has
``encode`` (uint8 images -> z_mean, z_log_var), ``decode`` (z -> uint8
images) and ``sample(n, seed)``.
"""

import dataclasses
import typing

import keras
import numpy as np
import scipy.stats
import tensorflow as tf

from dlsuite.apps.kits.generative import (GenerativeConfig, ImageGridLogger, SampleQualityApp,
                                          image_grid, load_image_data, measure, reference_images,
                                          save_png)
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import App, Endpoint, batch_size_for_check
from dlsuite.apps.runtime.config import require_positive
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.apps.vae.models import VAE, build_decoder, build_encoder, to_uint8


@dataclasses.dataclass(frozen=True)
class VAEConfig(GenerativeConfig):
    # 2 gives the latent traversal grid the whole latent space.
    latent_dim: int = 2
    beta: float = 1.0
    reconstruction: typing.Literal["bce", "mse"] = "bce"
    filters: int = 32
    hidden_units: int = 128
    patience: int = 5
    traversal_size: int = 10

    def validate(self):
        super().validate()
        require_positive(self, "latent_dim", "filters", "hidden_units", "traversal_size")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0. Received: beta={self.beta}")


def traversal_codes(config):
    """A ``traversal_size`` x ``traversal_size`` grid over the first two latent
    dimensions at evenly spaced quantiles of N(0, 1); the others are 0."""
    n = config.traversal_size
    values = scipy.stats.norm.ppf(np.linspace(0.05, 0.95, n))
    codes = np.zeros((n * n, config.latent_dim), "float32")
    for row, second in enumerate(values[::-1]):
        for column, first in enumerate(values):
            codes[row * n + column, 0] = first
            if config.latent_dim > 1:
                codes[row * n + column, 1] = second
    return codes


# The most images one ``sample`` call returns.
MAX_SAMPLES = 4096


@register_app("vae")
class VAEApp(SampleQualityApp, App):
    config_class = VAEConfig
    description = "convolutional VAE: reconstructions, latent traversal, ELBO"

    def make_datasets(self, config):
        return load_image_data(config)

    def to_inputs(self, x, y):
        return x

    def build_model(self, config, data):
        model = VAE(
            build_encoder(data.input_shape, config.latent_dim, config.filters, config.hidden_units),
            build_decoder(data.input_shape, config.latent_dim, config.filters, config.hidden_units),
            beta=config.beta, reconstruction=config.reconstruction, noise_seed=config.noise_seed)
        model.compile(optimizer=make_optimizer(config), **compile_options(config))
        model.build_optimizers()
        return model

    # -- grids ----------------------------------------------------------------
    def reconstruction_grid(self, model, data, columns=10):
        """Fixed dev images (odd rows) above their reconstructions (even rows)."""
        images = reference_images(data, 2 * columns)
        rebuilt = to_uint8(model(images)).numpy()
        rows = []
        for start in range(0, len(images), columns):
            rows += [images[start:start + columns], rebuilt[start:start + columns]]
        return image_grid(np.concatenate(rows), columns)

    def traversal_grid(self, model, config):
        images = to_uint8(model.decode(traversal_codes(config))).numpy()
        return image_grid(images, config.traversal_size)

    def samples(self, model, config, count):
        z = np.random.default_rng(config.seed + 1).standard_normal((count, config.latent_dim))
        return to_uint8(model.decode(z.astype("float32"))).numpy(), None

    def callbacks(self, config, data, run):
        found = [
            ImageGridLogger("reconstructions", lambda m: self.reconstruction_grid(m, data),
                            run.tb, run.path / "reconstructions.png"),
            ImageGridLogger("latent_traversal", lambda m: self.traversal_grid(m, config),
                            run.tb, run.path / "latent_traversal.png"),
        ]
        quality = self.quality_callback(
            lambda m: self.samples(m, config, config.quality_samples), config, data,
            reference_images(data, config.quality_samples))
        return found + ([quality] if quality else [])

    # -- export ---------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        count = batch_size_for_check(config.batch_size)
        latent = config.latent_dim

        def encode(images):
            images = signature_inputs.image_batch(images, signature="encode",
                                                  channels=(data.input_shape[-1],))
            z_mean, z_log_var = model.encode(images)
            return {"z_mean": tf.cast(z_mean, tf.float32), "z_log_var": tf.cast(z_log_var, tf.float32)}

        def decode(z):
            z = signature_inputs.float_batch(z, signature="decode", name="z", inner_shape=(latent,))
            return to_uint8(model.decode(z))

        def sample(n, seed):
            n = signature_inputs.scalar(n, signature="sample", name="n", low=1,
                                        high=MAX_SAMPLES)
            seed = signature_inputs.scalar(seed, signature="sample", name="seed")
            z = tf.random.stateless_normal(tf.stack([n, latent]), seed=tf.stack([seed, 0]))
            return to_uint8(model.decode(z))

        image_spec = tf.TensorSpec((None,) + tuple(data.input_shape), tf.uint8, name="images")
        codes = np.random.default_rng(config.seed + 2).standard_normal((count, latent))
        return [
            Endpoint("encode", encode, [image_spec], [reference_images(data, count)]),
            Endpoint("decode", decode, [tf.TensorSpec((None, latent), tf.float32, name="z")],
                     [codes.astype("float32")]),
            Endpoint("sample", sample, [tf.TensorSpec((), tf.int32, name="n"),
                                        tf.TensorSpec((), tf.int32, name="seed")],
                     [np.int32(count), np.int32(7)]),
        ]

    # -- report ---------------------------------------------------------------
    def report(self, model, config, data, run):
        save_png(self.reconstruction_grid(model, data), run.path / "reconstructions.png")
        save_png(self.traversal_grid(model, config), run.path / "latent_traversal.png")
        metrics, sections = {}, []
        rows = run.read_history()
        if len(data.x_test):
            test = model.evaluate(data.x_test, batch_size=config.batch_size, verbose=0,
                                  return_dict=True)
            elbo = -test["loss"] if config.beta == 1.0 and config.reconstruction == "bce" else None
            metrics["test"] = {**test, "elbo": elbo}
            lines = [f"Test set: loss {test['loss']:.2f} = reconstruction "
                     f"{test['reconstruction_loss']:.2f} + {config.beta} x KL {test['kl_loss']:.2f} "
                     "(nats per image)."]
            if elbo is not None:
                lines.append(f"Test ELBO: **{elbo:.2f}** nats per image (one-sample estimate).")
            per_epoch = [f"| {r['epoch'] + 1} | {-r['val_loss']:.2f} |" for r in rows if "val_loss" in r]
            if elbo is not None and per_epoch:
                lines += ["", "| epoch | dev ELBO |", "|---|---|", *per_epoch]
            sections += ["## Evidence lower bound", "", *lines, ""]
        sections += ["## Reconstructions", "", "Dev images (odd rows) and their reconstructions "
                     "through the posterior mean (even rows).", "",
                     "![reconstructions](reconstructions.png)", "",
                     "## Latent traversal", "",
                     f"Decoded codes on a {config.traversal_size} x {config.traversal_size} grid of "
                     "N(0, 1) quantiles over the first two latent dimensions.", "",
                     "![latent traversal](latent_traversal.png)", ""]
        quality = getattr(self, "quality", None)
        if config.quality and quality is not None:
            images, _ = self.samples(model, config, config.quality_samples)
            final = measure(quality.extractor, images, quality.real_features, data.num_classes)
            metrics["quality"] = {**final, "classifier_accuracy": self.classifier_accuracy}
            sections += ["## Sample quality (prior samples)", "",
                         "| metric | value |", "|---|---|",
                         *[f"| {k} | {v:.4f} |" for k, v in final.items()], ""]
            if quality.collapses or final["class_entropy"] < config.collapse_threshold:
                sections += ["**Warning: samples collapse onto few classes.**", "",
                             *[f"- {c}" for c in quality.collapses], ""]
        return metrics, sections
