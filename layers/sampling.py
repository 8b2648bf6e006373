"""The VAE reparameterization trick."""

import keras

from dlsuite.layers._random import seed_generator


@keras.saving.register_keras_serializable(package="dlsuite")
class Sampling(keras.layers.Layer):
    """Draw ``z ~ N(z_mean, exp(z_log_var))`` with the reparameterization trick.

    Kingma and Welling, "Auto-Encoding Variational Bayes" (2014), section
    2.4. With ``eps ~ N(0, I)`` drawn independently of the inputs::

        z = mu + exp(0.5 * log_var) * eps

    so ``z`` is a differentiable function of ``mu`` and ``log_var`` and
    gradients flow to the encoder. ``eps`` comes from a
    ``keras.random.SeedGenerator`` (``seed``), so a seeded layer draws the
    same sequence of noise on every backend. A caller that must control the
    noise itself (to make one replica and N replicas see the same noise, or
    for a deterministic export) passes it as ``epsilon``.

    Keras has no such layer (its VAE example writes one inline), hence this
    one. The arithmetic is done in float32 whatever the compute dtype (``exp``
    of a float16 log-variance overflows past 22) and the result is cast to
    the compute dtype. It has no weights.

    Example:

    >>> sampling = Sampling(seed=7)
    >>> z_mean = np.zeros((4, 2), "float32")
    >>> z_log_var = np.zeros((4, 2), "float32")
    >>> tuple(sampling([z_mean, z_log_var]).shape)
    (4, 2)

    Args:
        seed: Optional int, the seed of the layer's ``SeedGenerator``.
            ``None`` draws a random seed.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: A list ``[z_mean, z_log_var]`` of two tensors of the same
            shape ``(batch, latent_dim)``.
        training: Unused; the layer samples in training and inference alike
            (use ``z_mean`` directly for a deterministic code).
        epsilon: Optional tensor of the same shape, used instead of drawing
            ``eps``.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = seed_generator(seed)
        self.seed = seed

    def _check_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(shape, (list, tuple)) for shape in input_shape)
        ):
            raise ValueError(
                "Sampling expects a list of two inputs [z_mean, z_log_var]. "
                f"Received: input_shape={input_shape}"
            )
        mean_shape, log_var_shape = (tuple(s) for s in input_shape)
        if mean_shape[1:] != log_var_shape[1:]:
            raise ValueError(
                "z_mean and z_log_var must have the same shape. Received: "
                f"z_mean.shape={mean_shape}, z_log_var.shape={log_var_shape}"
            )
        return mean_shape

    def build(self, input_shape):
        self._check_shapes(input_shape)

    def call(self, inputs, training=None, epsilon=None):
        z_mean, z_log_var = inputs
        z_mean = keras.ops.cast(z_mean, "float32")
        z_log_var = keras.ops.cast(z_log_var, "float32")
        if epsilon is None:
            epsilon = keras.random.normal(
                keras.ops.shape(z_mean), dtype="float32", seed=self.seed_generator
            )
        else:
            epsilon = keras.ops.cast(epsilon, "float32")
        z = z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon
        return keras.ops.cast(z, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return self._check_shapes(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
