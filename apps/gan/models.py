"""DCGAN and conditional GAN: networks and the two-optimizer models.

Radford et al., "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks" (2016): strided
(transposed) convolutions instead of pooling, batch norm in the generator,
ReLU in the generator and LeakyReLU(0.2) in the discriminator, tanh output,
Adam(2e-4, beta_1=0.5). Mirza and Osindero, "Conditional Generative
Adversarial Nets" (2014): the label is given to both networks; here as a
learned embedding joined to the noise, and as one-hot label channels joined
to the discriminator's image.

The models subclass ``dlsuite.apps.runtime.custom_step.MultiOptimizerModel``, which
owns the train step (global-batch losses, loss scaling, optimizers built up
front). Each step alternates: the discriminator's update, then the
generator's, each with its own optimizer. Images enter as uint8 (or floats
already in ``[-1, 1]``) and leave the generator as float32 in ``[-1, 1]``.
"""

import keras
import tensorflow as tf

from dlsuite.apps.kits.generative.noise import replica_noise
from dlsuite.apps.runtime.custom_step import MultiOptimizerModel
from dlsuite.layers import FusedBatchNormalization
from dlsuite.losses import discriminator_loss, generator_loss


def upsampling_plan(image_size):
    """(start size, number of stride-2 upsamplings) for a square image."""
    for steps in (3, 2, 1):
        if image_size % (2**steps) == 0 and image_size // (2**steps) >= 2:
            return image_size // (2**steps), steps
    raise ValueError(
        f"image_size must be divisible by 2 with a start of at least 2. "
        f"Received: image_size={image_size}"
    )


def _batch_norm(name, enabled):
    # synchronized=True: under MirroredStrategy the batch statistics are the
    # GLOBAL batch's, so one replica and N replicas normalise alike. On one
    # replica the fused kernel does the same work in one op.
    if not enabled:
        return None
    return FusedBatchNormalization(synchronized=True, name=name)


def build_generator(latent_dim, image_shape, filters=64, batch_norm=True,
                    num_classes=None, label_embedding_dim=16):
    """Functional generator: noise (and label) -> float32 image in [-1, 1]."""
    height, width, channels = image_shape
    if height != width:
        raise ValueError(f"the GAN needs square images. Received: image_shape={image_shape}")
    start, steps = upsampling_plan(height)
    noise = keras.Input((latent_dim,), name="noise")
    inputs = [noise]
    x = noise
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = keras.layers.Embedding(num_classes, label_embedding_dim,
                                          name="label_embedding")(labels)
        x = keras.layers.Concatenate(name="noise_and_label")([noise, embedded])
    width0 = filters * 2 ** (steps - 1)
    x = keras.layers.Dense(start * start * width0, use_bias=not batch_norm, name="project")(x)
    x = keras.layers.Reshape((start, start, width0), name="to_map")(x)
    for index in range(steps):
        norm = _batch_norm(f"batch_norm_{index}", batch_norm)
        if norm is not None:
            x = norm(x)
        x = keras.layers.ReLU(name=f"relu_{index}")(x)
        last = index == steps - 1
        x = keras.layers.Conv2DTranspose(
            channels if last else width0 // 2 ** (index + 1), 4, strides=2, padding="same",
            use_bias=last or not batch_norm, name=f"up_{index}",
            # The image is the output: tanh in float32 whatever the policy.
            **({"activation": "tanh", "dtype": "float32"} if last else {}),
        )(x)
    return keras.Model(inputs if num_classes is not None else noise, x, name="generator")


def build_discriminator(image_shape, filters=64, dropout=0.3, num_classes=None):
    """Functional discriminator: image (and label) -> one float32 logit."""
    images = keras.Input(image_shape, name="images")
    inputs = [images]
    x = images
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        one_hot = keras.layers.CategoryEncoding(num_classes, output_mode="one_hot",
                                                name="one_hot")(labels)
        planes = keras.layers.Reshape((1, 1, num_classes), name="label_pixel")(one_hot)
        planes = keras.layers.UpSampling2D(image_shape[:2], name="label_planes")(planes)
        x = keras.layers.Concatenate(name="image_and_label")([images, planes])
    _, steps = upsampling_plan(image_shape[0])
    for index in range(steps):
        x = keras.layers.Conv2D(filters * 2**index, 4, strides=2, padding="same",
                                name=f"down_{index}")(x)
        # Dropout before the activation computes the same function as after
        # it (LeakyReLU(c * x) = c * LeakyReLU(x) for c >= 0, same mask). It
        # keeps the convolution's BiasAdd from feeding LeakyReLU directly:
        # TensorFlow's graph optimiser then sometimes fuses the three while
        # the gradient still needs the BiasAdd, fails ("remapper failed:
        # Mutation::Apply error"), and runs the whole step unfused, ~1.3x
        # slower. With dropout=0 the pattern remains (measured: 1 fit in 6
        # failed); the default, 0.3, avoids it.
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{index}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs if num_classes is not None else images, logits,
                       name="discriminator")


def to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1]; float input is taken as already scaled."""
    images = tf.convert_to_tensor(images)
    if images.dtype.is_integer:
        return tf.cast(images, tf.float32) / 127.5 - 1.0
    return tf.cast(images, tf.float32)


def to_uint8(images):
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped."""
    scaled = (tf.cast(images, tf.float32) + 1.0) * 127.5
    return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)


def from_config_with_models(cls, config, keys):
    """``cls(**config)`` with the serialized sub-models under ``keys`` revived."""
    config = dict(config)
    for key in keys:
        config[key] = keras.saving.deserialize_keras_object(config[key])
    return cls(**config)


def _per_example_mean(values):
    values = tf.cast(values, tf.float32)
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


@keras.saving.register_keras_serializable(package="dlsuite")
class DCGAN(MultiOptimizerModel):
    """Deep convolutional GAN with alternating discriminator/generator steps.

    Per step, with ``z`` drawn per example (``dlsuite.apps.kits.generative.noise``) and
    ``s = label_smoothing``, one batch ``G(z)`` is generated, then in turn::

        discriminator: minimise BCE(1 - s, D(x)) + BCE(0, D(G(z)))
        generator:     minimise -log sigmoid(D'(G(z)))    (non-saturating)

    where ``D'`` is the discriminator just updated.

    Logged: ``discriminator_loss``, ``generator_loss``, ``d_real`` = mean
    ``D(x)`` and ``d_fake`` = mean ``D(G(z))`` (probabilities).

    ``fit`` data is a batch of images (uint8, or floats in ``[-1, 1]``), or a
    dict ``{"images": ..., "noise": ...}`` to supply the noise.

    Example::

        gan = DCGAN(build_generator(16, (8, 8, 1), 8),
                    build_discriminator((8, 8, 1), 8), latent_dim=16)
        gan.compile(optimizers={"discriminator": keras.optimizers.Adam(2e-4, 0.5),
                                "generator": keras.optimizers.Adam(2e-4, 0.5)})
        gan.build_optimizers()
        gan.fit(uint8_images, epochs=1)
    """

    roles = ("discriminator", "generator")
    logged_terms = {"discriminator": ("d_real", "d_fake")}
    conditional = False

    def __init__(self, generator, discriminator, latent_dim, label_smoothing=0.0,
                 noise_seed=0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int. Received: latent_dim={latent_dim}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"label_smoothing must be in [0, 1). Received: label_smoothing={label_smoothing}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = float(label_smoothing)
        self.noise_seed = int(noise_seed)
        # Counts traces of compute_terms (Python side effect: once per trace).
        self.trace_count = 0
        # The sub-models hold every variable and are built.
        self.built = True

    # -- pieces ---------------------------------------------------------------
    def unpack(self, data):
        """-> (images in [-1, 1], labels or None, noise or None)."""
        noise = None
        labels = None
        if isinstance(data, (tuple, list)):
            # (images,), (images, labels) from tf.data, or ((images, labels),)
            # from numpy inputs.
            data, labels, _ = keras.utils.unpack_x_y_sample_weight(tuple(data))
        if isinstance(data, dict):
            labels = data.get("labels", labels)
            noise = data.get("noise")
            data = data["images"]
        elif isinstance(data, (tuple, list)):
            data, labels = data[0], (data[1] if len(data) > 1 else labels)
        return to_unit_range(data), labels, noise

    def draw_noise(self, batch, stream):
        step = self.role_optimizers[self.roles[0]].iterations
        return replica_noise(batch, self.latent_dim, self.noise_seed, step, stream)

    def generator_inputs(self, noise, labels):
        return noise

    def discriminator_inputs(self, images, labels):
        return images

    def generate(self, noise, labels=None, training=False):
        """Float32 images in [-1, 1] from ``noise`` (and ``labels``)."""
        return self.generator(self.generator_inputs(noise, labels), training=training)

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            return self.generate(inputs["noise"], inputs.get("labels"), training=training)
        return self.generate(inputs, training=training)

    # -- MultiOptimizerModel --------------------------------------------------
    def role_variables(self, role):
        network = self.discriminator if role == "discriminator" else self.generator
        return network.trainable_variables

    def shared_forward(self, data, training):
        """One generated batch per step, for both roles (as in PyTorch's DCGAN
        example): the discriminator trains on it, then the generator trains
        through the just-updated discriminator on the same batch."""
        images, labels, noise = self.unpack(data)
        if labels is not None:
            labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        if noise is None:
            noise = self.draw_noise(tf.shape(images)[0], 0 if training else 2)
        return {"images": images, "labels": labels,
                "fake": self.generate(noise, labels, training=training)}

    def compute_terms(self, role, data, training, shared=None):
        self.trace_count += 1
        if shared is None:
            shared = self.shared_forward(data, training)
        images, labels, fake = shared["images"], shared["labels"], shared["fake"]
        if role == "generator":
            fake_logits = self.discriminator(self.discriminator_inputs(fake, labels),
                                             training=training)
            return {"loss": generator_loss(fake_logits)}
        # The discriminator's step must not move the generator.
        fake_logits = self.discriminator(
            self.discriminator_inputs(tf.stop_gradient(fake), labels), training=training)
        real_logits = self.discriminator(self.discriminator_inputs(images, labels),
                                         training=training)
        return {
            "loss": discriminator_loss(real_logits, fake_logits, self.label_smoothing),
            "d_real": _per_example_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))),
            "d_fake": _per_example_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32))),
        }

    # -- saving ---------------------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "label_smoothing": self.label_smoothing,
            "noise_seed": self.noise_seed,
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_models(cls, config, ("generator", "discriminator"))


@keras.saving.register_keras_serializable(package="dlsuite")
class ConditionalGAN(DCGAN):
    """Conditional DCGAN: ``G(z, y)`` and ``D(x, y)`` for class labels ``y``.

    The generator joins a learned label embedding to the noise; the
    discriminator sees one-hot label planes beside the image channels. Fake
    examples in a step are generated for the real batch's labels, so their
    label distribution is the data's. The losses are DCGAN's.

    ``fit`` data is ``(images, labels)`` or ``{"images", "labels", "noise"}``.
    """

    conditional = True

    def __init__(self, generator, discriminator, latent_dim, num_classes, **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"num_classes must be an int >= 2. Received: num_classes={num_classes}"
            )
        self.num_classes = num_classes

    def unpack(self, data):
        images, labels, noise = super().unpack(data)
        if labels is None:
            raise ValueError("ConditionalGAN needs labels: feed (images, labels).")
        return images, labels, noise

    def generator_inputs(self, noise, labels):
        if labels is None:
            raise ValueError("ConditionalGAN.generate needs labels.")
        noise = tf.convert_to_tensor(noise, tf.float32)
        return [noise, tf.cast(tf.reshape(labels, [-1]), tf.int32)]

    def discriminator_inputs(self, images, labels):
        return [images, tf.cast(tf.reshape(labels, [-1]), tf.int32)]

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config
