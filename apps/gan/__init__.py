"""``gan``: DCGAN, conditional GAN and StyleGAN (``--set variant=dcgan|conditional|stylegan``).

Two optimizers, alternating discriminator/generator steps, the
non-saturating loss with one-sided label smoothing (``dlsuite.apps.gan.models``).
Every epoch logs both losses, ``D(x)`` and ``D(G(z))``, a fixed-noise image
grid, and sample quality measured with a reference classifier trained on the
same data (``dlsuite.apps.kits.generative.quality``): classifier Inception Score, Frechet
distance in its feature space, and the label accuracy of a conditional
model. The export's ``generate(noise[, labels])`` returns uint8 images.
StyleGAN (``dlsuite.apps.gan.stylegan``, ``dlsuite.apps.gan.style_app``) exports
``generate(noise, truncation_psi)``, ``mix(noise_a, noise_b,
crossover_layer)`` and ``map(noise)``, and adds a style-mixing grid, a
truncation sweep and the R1 penalty to the logs.
"""

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.gan.models import ConditionalGAN, DCGAN, build_discriminator, build_generator, to_uint8
from dlsuite.apps.gan import style_app
from dlsuite.apps.gan.style_networks import check_resolution
from dlsuite.apps.kits.generative import (GenerativeConfig, ImageGridLogger, SampleQualityApp,
                                          image_grid, load_image_data, measure, reference_images)
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import App, Endpoint, batch_size_for_check
from dlsuite.apps.runtime.config import (require_fraction, require_non_negative, require_positive,
                                         require_read)
from dlsuite.apps.runtime.optim import compile_options

@dataclasses.dataclass(frozen=True)
class GANConfig(GenerativeConfig):
    variant: typing.Literal["dcgan", "conditional", "stylegan"] = "conditional"
    latent_dim: int = 64
    generator_filters: int = 32
    discriminator_filters: int = 32
    batch_norm: bool = True
    dropout: float = 0.3
    label_embedding_dim: int = 16
    label_smoothing: float = 0.1
    # Adam(2e-4, beta_1=0.5), the DCGAN paper's setting.
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    # GAN losses do not fall steadily: no early stopping by default.
    patience: int = 0
    # -- variant=stylegan only (apps.gan.style_app) --
    w_dim: int = 128
    mapping_layers: int = 4
    # Feature maps at full resolution, doubling at each halving, at most
    # style_max_filters (generator and discriminator alike).
    style_filters: int = 32
    style_max_filters: int = 128
    # R1 penalty weight (0 = off), applied lazily every r1_interval steps.
    r1_gamma: float = 0.1
    r1_interval: int = 16
    style_mixing: float = 0.9
    w_avg_beta: float = 0.995
    # Inference uses an exponential moving average of the generator's weights
    # with this half-life in images (0 = the trained weights), ramped up as
    # ema_rampup * images seen early on.
    ema_half_life: int = 10_000
    ema_rampup: float = 0.05
    minibatch_group: int = 4
    # Adam(rate, beta_1=0, beta_2=style_beta_2), StyleGAN2's. The generator's
    # layers have the equalised learning rate (a step moves a weight by about
    # the rate relative to its scale); the discriminator's are Keras's own,
    # initialised ~1/sqrt(fan_in), so the same relative step is a smaller rate:
    # at 2e-3 the discriminator blew up in its first epoch (R1 penalty ~1e9) and
    # the generator collapsed; at 2e-4 (Fashion-MNIST 32x32, 30 minutes,
    # python -m benchmarks --only=quality stylegan) the Frechet distance went
    # 44.8, 26.1, 20.1, 9.71, below the DCGAN's 10.46 after the same time.
    style_learning_rate: float = 2e-3
    style_discriminator_learning_rate: float = 2e-4
    style_beta_2: float = 0.99

    def validate(self):
        super().validate()
        require_positive(self, "latent_dim", "generator_filters", "discriminator_filters",
                         "label_embedding_dim", "w_dim", "mapping_layers", "style_filters",
                         "style_max_filters", "r1_interval", "minibatch_group",
                         "style_learning_rate", "style_discriminator_learning_rate")
        require_fraction(self, "dropout", "label_smoothing")
        if not 0.0 < self.beta_1 < 1.0:
            raise ValueError(f"beta_1 must be in (0, 1). Received: beta_1={self.beta_1}")
        if self.r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0. Received: r1_gamma={self.r1_gamma}")
        require_fraction(self, "w_avg_beta", "style_beta_2")
        require_non_negative(self, "ema_half_life", "ema_rampup")
        if not 0.0 <= self.style_mixing <= 1.0:
            raise ValueError(f"style_mixing must be in [0, 1]. Received: style_mixing={self.style_mixing}")
        if self.variant == "stylegan" and self.image_size is not None:
            check_resolution(self.image_size)
        # Both networks train with Adam (the DCGAN paper's; StyleGAN2's betas
        # and rates): another optimizer is refused, never silently replaced.
        if self.optimizer != "adam":
            raise ValueError(f"the gan app trains both networks with Adam; another optimizer is "
                             f"not supported there. Received: optimizer={self.optimizer}")
        stylegan = self.variant == "stylegan"
        require_read(self, "learning_rate", not stylegan,
                     "variant=dcgan|conditional (stylegan reads style_learning_rate and "
                     "style_discriminator_learning_rate)")
        require_read(self, "beta_1", not stylegan,
                     "variant=dcgan|conditional (StyleGAN2's beta_1 is 0)")


def fixed_noise(count, latent_dim, seed):
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")


@register_app("gan")
class GANApp(SampleQualityApp, App):
    config_class = GANConfig
    description = "DCGAN / conditional GAN / StyleGAN with classifier-based sample quality"

    @property
    def monitor(self):
        # The checkpoint keeps the epoch with the best samples.
        config = getattr(self, "config", None)
        return "frechet_distance" if config is not None and config.quality else "val_generator_loss"

    def make_datasets(self, config):
        data = load_image_data(config)
        return style_app.power_of_two(data) if config.variant == "stylegan" else data

    def to_inputs(self, x, y):
        return (x, y) if self.config_is_conditional() else x

    def config_is_conditional(self):
        return getattr(self, "config", self.default_config()).variant == "conditional"

    def build_model(self, config, data):
        if config.variant == "stylegan":
            return style_app.build_stylegan(config, data)
        conditional = config.variant == "conditional"
        classes = data.num_classes if conditional else None
        generator = build_generator(config.latent_dim, data.input_shape, config.generator_filters,
                                    config.batch_norm, classes, config.label_embedding_dim)
        discriminator = build_discriminator(data.input_shape, config.discriminator_filters,
                                            config.dropout, classes)
        common = dict(label_smoothing=config.label_smoothing, noise_seed=config.noise_seed)
        if conditional:
            model = ConditionalGAN(generator, discriminator, config.latent_dim,
                                   num_classes=data.num_classes, **common)
        else:
            model = DCGAN(generator, discriminator, config.latent_dim, **common)
        model.compile(
            optimizers={role: keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
                        for role in model.roles},
            **compile_options(config),
        )
        model.build_optimizers()
        return model

    # -- samples --------------------------------------------------------------
    def grid_inputs(self, config, data):
        """Fixed noise (and labels) of the epoch grid: one row per class for a
        conditional model, the same noise in every row."""
        if config.variant == "conditional":
            columns = 8
            noise = np.tile(fixed_noise(columns, config.latent_dim, config.seed), (data.num_classes, 1))
            labels = np.repeat(np.arange(data.num_classes), columns).astype("int32")
            return noise, labels, columns
        noise = fixed_noise(64, config.latent_dim, config.seed)
        return noise, None, 8

    def sample_grid(self, model, config, data):
        noise, labels, columns = self.grid_inputs(config, data)
        images = to_uint8(model.generate(noise, labels)).numpy()
        return image_grid(images, columns)

    def samples(self, model, config, data, count):
        """``count`` uint8 samples from fixed noise, with balanced labels."""
        noise = fixed_noise(count, config.latent_dim, config.seed + 1)
        labels = None
        if config.variant == "conditional":
            labels = (np.arange(count) % data.num_classes).astype("int32")
        images = []
        for start in range(0, count, 256):
            part = labels[start:start + 256] if labels is not None else None
            images.append(to_uint8(model.generate(noise[start:start + 256], part)).numpy())
        return np.concatenate(images), labels

    def callbacks(self, config, data, run):
        found = [ImageGridLogger("samples", lambda m: self.sample_grid(m, config, data),
                                 run.tb, run.path / "samples.png")]
        if config.variant == "stylegan":
            found += style_app.style_callbacks(config, data, run)
        quality = self.quality_callback(
            lambda m: self.samples(m, config, data, config.quality_samples), config, data,
            reference_images(data, config.quality_samples))
        return found + ([quality] if quality else [])

    # -- export ---------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        if config.variant == "stylegan":
            return style_app.style_endpoints(model, config, data)
        count = batch_size_for_check(config.batch_size)
        noise = fixed_noise(count, config.latent_dim, config.seed + 2)
        noise_spec = tf.TensorSpec((None, config.latent_dim), tf.float32, name="noise")
        def checked_noise(noise):
            return signature_inputs.float_batch(noise, signature="generate", name="noise",
                                                inner_shape=(config.latent_dim,))

        if config.variant == "conditional":
            def generate(noise, labels):
                noise = checked_noise(noise)
                labels = signature_inputs.int_batch(labels, signature="generate", name="labels",
                                                    low=0, high=data.num_classes)
                same = tf.debugging.assert_equal(
                    tf.shape(noise)[0], tf.shape(labels)[0],
                    message="generate expects one label per noise row")
                with tf.control_dependencies([same]):
                    return to_uint8(model.generate(noise, labels))

            labels = (np.arange(count) % data.num_classes).astype("int32")
            return [Endpoint("generate", generate,
                             [noise_spec, tf.TensorSpec((None,), tf.int32, name="labels")],
                             [noise, labels])]

        def generate(noise):
            return to_uint8(model.generate(checked_noise(noise)))

        return [Endpoint("generate", generate, [noise_spec], [noise])]

    def predict_files(self, loaded, paths):
        """Each file holds noise codes, one per row (``.npy``, or text such
        as ``np.savetxt`` writes): the export's ``generate`` turns them into
        images, saved as a grid ``<file>.png`` beside it (a StyleGAN's
        untruncated, ``truncation_psi=1``)."""
        from dlsuite.apps.kits.generative.images import save_png
        from dlsuite.apps.errors import UsageError

        config = self.config or self.default_config()
        if config.variant == "conditional":
            raise UsageError("the conditional GAN needs a label per code: call the export's "
                             "generate(noise, labels) from Python")
        lines = []
        for path in paths:
            try:
                codes = (np.load(path, allow_pickle=False) if str(path).endswith(".npy")
                         else np.loadtxt(path, dtype=np.float32, ndmin=2))
            except (OSError, ValueError) as error:
                raise UsageError(f"{path}: not a .npy array or a text file of numbers "
                                 f"({error})") from None
            codes = np.asarray(codes, dtype=np.float32)
            if codes.ndim != 2 or codes.shape[1] != config.latent_dim or not len(codes):
                raise UsageError(f"{path}: expected noise codes of shape (count, "
                                 f"{config.latent_dim}), one per row; received shape {codes.shape}")
            noise = tf.constant(codes)
            images = (loaded.generate(noise, tf.constant(1.0)) if config.variant == "stylegan"
                      else loaded.generate(noise)).numpy()
            target = f"{path}.png"
            save_png(image_grid(images, min(8, len(images))), target)
            lines.append(f"{path}: {len(images)} image(s) -> {target}")
        return lines

    # -- report ---------------------------------------------------------------
    def report(self, model, config, data, run):
        from dlsuite.apps.kits.generative.images import save_png

        save_png(self.sample_grid(model, config, data), run.path / "samples.png")
        metrics, sections = {}, [
            "## Samples", "",
            ("Fixed noise, one row per class." if config.variant == "conditional"
             else "Fixed noise."), "", "![samples](samples.png)", ""]
        if config.variant == "stylegan":
            sections += style_app.style_report(model, config, data, run)
        quality = getattr(self, "quality", None)
        if config.quality and quality is not None:
            images, labels = self.samples(model, config, data, config.quality_samples)
            final = measure(quality.extractor, images, quality.real_features,
                            data.num_classes, labels)
            metrics["quality"] = {**final, "classifier_accuracy": self.classifier_accuracy,
                                  "per_epoch": quality.history}
            rows = ["| metric | value |", "|---|---|"]
            rows += [f"| {name} | {value:.4f} |" for name, value in final.items()]
            sections += [
                "## Sample quality", "",
                f"Measured on {config.quality_samples} samples with a reference classifier "
                f"trained on the same data (test accuracy {self.classifier_accuracy:.3f}).", "",
                *rows, ""]
            collapses = list(quality.collapses)
            if final["class_entropy"] < config.collapse_threshold:
                collapses.append(f"final samples' class entropy {final['class_entropy']:.2f} "
                                 f"< {config.collapse_threshold}")
            if collapses:
                sections += ["**Warning: mode collapse.**", ""] + [f"- {c}" for c in collapses] + [""]
        return metrics, sections
