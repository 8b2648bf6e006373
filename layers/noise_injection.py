"""StyleGAN's per-pixel noise, scaled by a learned factor per channel."""

import keras

from dlsuite.layers._random import seed_generator


@keras.saving.register_keras_serializable(package="dlsuite")
class NoiseInjection(keras.layers.Layer):
    """Add single-channel per-pixel noise, scaled by a learned per-channel factor.

    Karras et al., "A Style-Based Generator Architecture for Generative
    Adversarial Networks" (2019), section 3.2: stochastic detail (hair,
    texture) comes from noise added after each convolution, so that the
    styles need not encode it::

        y[b, h, w, c] = x[b, h, w, c] + strength[c] * n[b, h, w],   n ~ N(0, 1)

    ``strength`` starts at zero (the paper's initialisation), so the layer
    starts as the identity and learns how much noise each channel takes.

    The noise ``n`` comes from a ``keras.random.SeedGenerator`` (``seed``),
    in training and inference alike. A caller that must control it passes
    ``noise`` (any shape broadcastable to ``(batch, height, width, 1)``):
    a fixed map for reproducible images, or noise drawn so that one replica
    and N replicas see the same values. (Under ``MirroredStrategy`` every
    replica holds a copy of the same seed state, so each replica's draw for
    its slice of the batch repeats the others' and differs from one device's
    draw for the whole batch; ``dlsuite.apps.gan`` passes its own noise for that
    reason.)

    Keras's ``GaussianNoise`` adds full-shape noise of a fixed standard
    deviation in training only; this layer's noise is one map shared by all
    channels, with learned per-channel strengths, hence this layer. The
    noise is drawn in float32 and cast to the compute dtype.

    Example:

    >>> layer = NoiseInjection(seed=1)
    >>> x = np.zeros((2, 4, 4, 3), "float32")
    >>> float(np.abs(layer(x)).max())    # strength starts at 0
    0.0

    Args:
        seed: Optional int, the seed of the layer's ``SeedGenerator``.
            ``None`` draws a random seed.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, height, width, channels)`` feature maps.
        noise: Optional tensor broadcastable to ``(batch, height, width, 1)``,
            used instead of a draw.
        training: Unused; the layer adds noise in training and inference.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = seed_generator(seed)
        self.seed = seed

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError("NoiseInjection expects inputs of shape (batch, height, width, "
                             f"channels). Received: input_shape={input_shape}")
        self.strength = self.add_weight(name="strength", shape=(input_shape[-1],),
                                        initializer="zeros")

    def call(self, inputs, noise=None, training=None):
        if noise is None:
            shape = keras.ops.shape(inputs)
            noise = keras.random.normal((shape[0], shape[1], shape[2], 1), dtype="float32",
                                        seed=self.seed_generator)
        return inputs + keras.ops.cast(noise, self.compute_dtype) * self.strength

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
