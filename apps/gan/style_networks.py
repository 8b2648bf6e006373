"""StyleGAN's three networks: mapping, synthesis and discriminator.

Karras et al., "A Style-Based Generator Architecture for Generative
Adversarial Networks" (2019) and "Analyzing and Improving the Image Quality
of StyleGAN" (2020), at the small widths a 2-core CPU trains in minutes:

* **mapping** ``z -> w``: ``dlsuite.layers.MappingNetwork`` (pixel norm, a few
  dense layers with a 0.01 learning-rate multiplier).
* **synthesis** ``(w_0 .. w_{L-1}, noise maps) -> image``: a learned 4x4
  constant (``dlsuite.layers.LearnedConstant``), then per resolution 4 -> 8 -> ...
  -> ``resolution`` a bilinear 2x upsampling and two 3x3
  ``dlsuite.layers.ModulatedConv2D`` (one at 4x4), each followed by
  ``dlsuite.layers.NoiseInjection`` and a leaky ReLU, and a 1x1 modulated toRGB
  whose output is added to the upsampled image so far (StyleGAN2's "skip"
  generator). One style per layer, indexed as StyleGAN2 does: a toRGB
  shares its style with the next resolution's first convolution, so a
  ``2^k``-pixel generator reads ``L = 2k - 2`` styles (8 at 32x32): the
  coarse ones (4x4, 8x8) set pose and shape, the fine ones texture.
* **discriminator** ``image -> logit``: a 1x1 fromRGB, then per resolution
  a 3x3 convolution and a 3x3 stride-2 convolution, down to 4x4, then a
  minibatch standard deviation channel (Karras et al., 2018, section 3;
  over groups of ``group_size`` consecutive examples, so a replica's
  groups are a single device's), a 3x3 convolution and two dense layers.

The networks are Functional models of Keras layers (no Lambda) and save and
load in safe mode. The synthesis network's output is float32 whatever the
dtype policy; no tanh (StyleGAN's output is linear; images are clipped to
``[-1, 1]`` on their way to uint8).
"""

import math

import keras

from dlsuite.layers import (LearnedConstant, MappingNetwork, MinibatchStandardDeviation, ModulatedConv2D,
                    NoiseInjection)


def check_resolution(resolution):
    """``resolution`` must be a power of two >= 8."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError("the StyleGAN's image size must be a power of two >= 8 (set "
                         f"image_size=32, say). Received: image_size={resolution}")
    return resolution


def resolutions(resolution):
    """4, 8, ..., ``resolution``."""
    check_resolution(resolution)
    return [2**k for k in range(2, int(math.log2(resolution)) + 1)]


def num_styles(resolution):
    """``L = 2 log2(resolution) - 2`` styles: 8 at 32x32."""
    return 2 * int(math.log2(check_resolution(resolution))) - 2


def noise_shapes(resolution):
    """``(size, size, 1)`` of each noise input, in the synthesis network's order."""
    return [(size, size, 1) for size in resolutions(resolution)
            for _ in range(1 if size == 4 else 2)]


def channels_at(size, resolution, filters, max_filters):
    """Feature maps at ``size``: ``filters`` at full resolution, doubling at
    each halving, at most ``max_filters``."""
    return min(max_filters, filters * (resolution // size))


def build_mapping(latent_dim, w_dim, num_layers, name="mapping"):
    """Functional ``z -> w``."""
    noise = keras.Input((latent_dim,), name="noise")
    w = MappingNetwork(w_dim, num_layers=num_layers, name="mapping_network")(noise)
    return keras.Model(noise, w, name=name)


def build_synthesis(resolution, channels, w_dim, filters, max_filters, name="synthesis"):
    """Functional ``[style_0 .. style_{L-1}, noise_0 .. noise_{M-1}] -> image``.

    Every style is ``(batch, w_dim)``; every noise input ``(batch or 1,
    size, size, 1)`` (a single map is broadcast over the batch).
    """
    styles = [keras.Input((w_dim,), name=f"style_{index}")
              for index in range(num_styles(resolution))]
    noises = [keras.Input(shape, name=f"noise_{index}")
              for index, shape in enumerate(noise_shapes(resolution))]
    width = channels_at(4, resolution, filters, max_filters)
    x = LearnedConstant((4, 4, width), name="constant")(styles[0])
    style, noise = 0, 0

    def layer(x, size, suffix):
        nonlocal style, noise
        width = channels_at(size, resolution, filters, max_filters)
        x = ModulatedConv2D(width, 3, name=f"conv_{size}{suffix}")([x, styles[style]])
        x = NoiseInjection(name=f"noise_injection_{size}{suffix}")(x, noise=noises[noise])
        style, noise = style + 1, noise + 1
        return keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{size}{suffix}")(x)

    def to_rgb(x, size):
        return ModulatedConv2D(channels, 1, demodulate=False,
                               name=f"to_rgb_{size}")([x, styles[style]])

    x = layer(x, 4, "")
    image = to_rgb(x, 4)
    for size in resolutions(resolution)[1:]:
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up_{size}")(x)
        x = layer(x, size, "_0")
        x = layer(x, size, "_1")
        image = keras.layers.UpSampling2D(2, interpolation="bilinear",
                                          name=f"up_rgb_{size}")(image)
        image = keras.layers.Add(name=f"add_rgb_{size}")([image, to_rgb(x, size)])
    image = keras.layers.Activation("linear", dtype="float32", name="image")(image)
    return keras.Model(styles + noises, image, name=name)


def build_style_discriminator(image_shape, filters, max_filters, group_size=4,
                              name="discriminator"):
    """Functional ``image -> (batch, 1)`` float32 logit."""
    resolution = check_resolution(image_shape[0])
    if image_shape[0] != image_shape[1]:
        raise ValueError(f"the StyleGAN needs square images. Received: image_shape={image_shape}")
    images = keras.Input(image_shape, name="images")

    def conv(x, size, suffix, strides=1, kernel_size=3):
        width = channels_at(size // strides, resolution, filters, max_filters)
        x = keras.layers.Conv2D(width, kernel_size, strides=strides, padding="same",
                                name=f"conv_{size}{suffix}")(x)
        return activation(x, f"{size}{suffix}")

    def activation(x, suffix):
        # StyleGAN's leaky ReLU with gain sqrt(2), the gain applied first
        # (the same function: lrelu(c x) = c lrelu(x) for c > 0). Between the
        # convolution's BiasAdd and the LeakyReLU it keeps TensorFlow's graph
        # optimiser from fusing the three while the gradient needs the
        # BiasAdd: that fusion fails ("remapper failed: ... Mutation::Apply
        # error"; 1 fit in 3 here) and leaves the whole step unfused (see
        # apps/gan/models.py, build_discriminator).
        x = keras.layers.Rescaling(math.sqrt(2.0), name=f"gain_{suffix}")(x)
        return keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{suffix}")(x)

    x = conv(images, resolution, "_from_rgb", kernel_size=1)
    for size in reversed(resolutions(resolution)[1:]):
        x = conv(x, size, "_0")
        x = conv(x, size, "_down", strides=2)
    x = MinibatchStandardDeviation(group_size, name="minibatch_stddev")(x)
    x = conv(x, 4, "")
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(channels_at(4, resolution, filters, max_filters), name="dense")(x)
    x = activation(x, "dense")
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name=name)
