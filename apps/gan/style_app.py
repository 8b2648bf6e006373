"""The ``gan`` app's StyleGAN variant (``--set variant=stylegan``): data at a
power-of-two size, the model, its export endpoints, and its figures.

Exports:

* ``generate(noise, truncation_psi) -> uint8 images``;
* ``mix(noise_a, noise_b, crossover_layer) -> uint8 images``: styles
  ``0 .. crossover_layer - 1`` (coarse) from ``noise_a``, the rest (fine)
  from ``noise_b``; ``crossover_layer`` in ``[0, L]``, ``L`` the number of
  styles (8 at 32x32);
* ``map(noise) -> w``.

Figures (TensorBoard every epoch and the report): the fixed-noise grid, a
style-mixing grid (first row: images of the codes B, first column: images
of the codes A, cell ``(i, j)``: coarse styles from ``A_i``, fine from
``B_j``) and a truncation sweep (one row per ``psi`` in 0, 0.5, 0.7, 1).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.data.loading import resize_images
from dlsuite.apps.kits.generative.images import ImageGridLogger, image_grid, save_png
from dlsuite.apps.gan.models import to_uint8
from dlsuite.apps.gan.style_networks import (build_mapping, build_style_discriminator, build_synthesis,
                                     num_styles)
from dlsuite.apps.gan.stylegan import StyleGAN, StyleGenerator
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.runtime.optim import compile_options

TRUNCATION_SWEEP = (0.0, 0.5, 0.7, 1.0)
MIXING_ROWS, MIXING_COLUMNS, SWEEP_COLUMNS = 5, 6, 8


def power_of_two(data):
    """``data`` with images resized to the next power of two (28 -> 32)
    when their size is not one; the source string says so."""
    size = data.input_shape[0]
    target = 1 << max(3, (size - 1).bit_length())
    if data.input_shape[0] == data.input_shape[1] == target:
        return data
    resized = {name: (resize_images(getattr(data, name), (target, target))
                      if len(getattr(data, name)) else
                      np.zeros((0, target, target, data.input_shape[2]), np.uint8))
               for name in ("x_train", "x_dev", "x_test")}
    return dataclasses.replace(
        data, **resized,
        source=f"{data.source}, resized to {target}x{target} for the StyleGAN")


def build_stylegan(config, data):
    """The compiled StyleGAN of ``config`` for ``data``'s image shape.

    Adam with ``beta_1 = 0``, ``beta_2 = style_beta_2`` for both networks
    (StyleGAN2's); the discriminator's learning rate and betas corrected for
    the lazy penalty (StyleGAN2, appendix B: ``c = N / (N + 1)``, rate
    ``* c``, betas ``** c``).
    """
    resolution, _, channels = data.input_shape
    mapping = build_mapping(config.latent_dim, config.w_dim, config.mapping_layers)
    synthesis = build_synthesis(resolution, channels, config.w_dim, config.style_filters,
                                config.style_max_filters)
    discriminator = build_style_discriminator(data.input_shape, config.style_filters,
                                              config.style_max_filters,
                                              group_size=config.minibatch_group)
    generator = StyleGenerator(mapping, synthesis, w_avg_beta=config.w_avg_beta,
                               noise_seed=config.noise_seed, ema_half_life=config.ema_half_life,
                               ema_rampup=config.ema_rampup, name="generator")
    model = StyleGAN(generator, discriminator, config.latent_dim, r1_gamma=config.r1_gamma,
                     r1_interval=config.r1_interval, style_mixing=config.style_mixing,
                     noise_seed=config.noise_seed)
    lazy = config.r1_interval / (config.r1_interval + 1) if config.r1_gamma else 1.0
    model.compile(optimizers={
        "generator": keras.optimizers.Adam(config.style_learning_rate, beta_1=0.0,
                                           beta_2=config.style_beta_2, epsilon=1e-8),
        "discriminator": keras.optimizers.Adam(config.style_discriminator_learning_rate * lazy,
                                               beta_1=0.0,
                                               beta_2=config.style_beta_2**lazy, epsilon=1e-8),
    }, **compile_options(config))
    model.build_optimizers()
    return model


# -- figures ------------------------------------------------------------------------
def codes(count, latent_dim, seed):
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")


def crossover(config, data):
    """The mixing figure's crossover: styles 0-3 (4x4 and 8x8: pose, shape)
    are coarse; an 8x8 generator (4 styles) keeps its last one fine."""
    return min(4, num_styles(data.input_shape[0]) - 1)


def mixing_grid(model, config, data):
    """uint8 grid: blank corner, codes B's images along the top, codes A's
    down the left, cell ``(i, j)`` = coarse from ``A_i``, fine from ``B_j``."""
    rows = codes(MIXING_ROWS, config.latent_dim, config.seed + 10)
    columns = codes(MIXING_COLUMNS, config.latent_dim, config.seed + 11)
    a = np.repeat(rows, MIXING_COLUMNS, axis=0)
    b = np.tile(columns, (MIXING_ROWS, 1))
    cells = to_uint8(model.mix(a, b, crossover(config, data))).numpy()
    top = to_uint8(model.generate(columns)).numpy()
    left = to_uint8(model.generate(rows)).numpy()
    blank = np.zeros_like(top[:1])
    tiles = [blank, *top]
    for row in range(MIXING_ROWS):
        tiles += [left[row:row + 1], *cells[row * MIXING_COLUMNS:(row + 1) * MIXING_COLUMNS]]
    tiles = np.concatenate([t.reshape(1, *t.shape[-3:]) for t in tiles])
    return image_grid(tiles, MIXING_COLUMNS + 1)


def truncation_grid(model, config):
    """uint8 grid: one row per psi in ``TRUNCATION_SWEEP``, the same codes."""
    noise = codes(SWEEP_COLUMNS, config.latent_dim, config.seed + 12)
    rows = [to_uint8(model.generate(noise, truncation_psi=psi)).numpy()
            for psi in TRUNCATION_SWEEP]
    return image_grid(np.concatenate(rows), SWEEP_COLUMNS)


def style_callbacks(config, data, run):
    """TensorBoard loggers of the mixing grid and the truncation sweep."""
    return [ImageGridLogger("style_mixing", lambda m: mixing_grid(m, config, data), run.tb,
                            run.path / "style_mixing.png"),
            ImageGridLogger("truncation", lambda m: truncation_grid(m, config), run.tb,
                            run.path / "truncation.png")]


def style_report(model, config, data, run):
    save_png(mixing_grid(model, config, data), run.path / "style_mixing.png")
    save_png(truncation_grid(model, config), run.path / "truncation.png")
    cut = crossover(config, data)
    return [
        "## Style mixing", "",
        f"Top row: the images of codes B; left column: codes A; each cell takes styles 0-{cut - 1} "
        f"(coarse: the 4x4 and 8x8 layers) from its row's code and styles {cut}-"
        f"{num_styles(data.input_shape[0]) - 1} (fine) from its column's "
        f"(`mix(noise_a, noise_b, crossover_layer={cut})`).", "",
        "![style mixing](style_mixing.png)", "",
        "## Truncation", "",
        "The same codes with `truncation_psi` = " + ", ".join(map(str, TRUNCATION_SWEEP))
        + " (rows): psi = 0 is the average image (`w_avg`), psi = 1 untruncated.", "",
        "![truncation](truncation.png)", ""]


# -- export -----------------------------------------------------------------------------
def style_endpoints(model, config, data):
    count = batch_size_for_check(config.batch_size)
    layers = num_styles(data.input_shape[0])
    latent = config.latent_dim

    def noise_spec(name):
        return tf.TensorSpec((None, latent), tf.float32, name=name)

    def checked(noise, signature, name):
        return signature_inputs.float_batch(noise, signature=signature, name=name,
                                            inner_shape=(latent,))

    def generate(noise, truncation_psi):
        noise = checked(noise, "generate", "noise")
        psi = signature_inputs.scalar(truncation_psi, signature="generate",
                                      name="truncation_psi", low=0.0, high=1.0)
        return to_uint8(model.generate(noise, truncation_psi=psi))

    def mix(noise_a, noise_b, crossover_layer):
        noise_a = checked(noise_a, "mix", "noise_a")
        noise_b = checked(noise_b, "mix", "noise_b")
        layer = signature_inputs.scalar(crossover_layer, signature="mix",
                                        name="crossover_layer", low=0, high=layers)
        same = tf.debugging.assert_equal(
            tf.shape(noise_a)[0], tf.shape(noise_b)[0],
            message="mix expects noise_a and noise_b with the same batch size")
        with tf.control_dependencies([same]):
            return to_uint8(model.mix(noise_a, noise_b, layer))

    def map_(noise):
        return model.map(checked(noise, "map", "noise"))

    a, b = codes(count, latent, config.seed + 2), codes(count, latent, config.seed + 3)
    return [
        Endpoint("generate", generate,
                 [noise_spec("noise"), tf.TensorSpec((), tf.float32, name="truncation_psi")],
                 [a, np.float32(0.7)]),
        Endpoint("mix", mix,
                 [noise_spec("noise_a"), noise_spec("noise_b"),
                  tf.TensorSpec((), tf.int32, name="crossover_layer")],
                 [a, b, np.int32(crossover(config, data))]),
        Endpoint("map", map_, [noise_spec("noise")], [a]),
    ]
