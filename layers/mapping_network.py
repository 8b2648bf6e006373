"""StyleGAN's mapping network: latent code z -> intermediate latent w."""

import math

import keras


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value}")
    return value


@keras.saving.register_keras_serializable(package="dlsuite")
class MappingNetwork(keras.layers.Layer):
    """Map a latent code ``z`` to the intermediate latent ``w`` of a StyleGAN.

    Karras et al., "A Style-Based Generator Architecture for Generative
    Adversarial Networks" (2019), section 2: ``z`` is normalised to the
    unit hypersphere's radius (pixel norm) and goes through ``num_layers``
    fully connected layers with leaky ReLU::

        h_0     = z / sqrt(mean_j z_j^2 + epsilon)
        h_{l+1} = lrelu_0.2(h_l (c_l V_l) + lr_mul * b_l) * sqrt(2)
        w       = h_L

    with the equalised learning rate of Karras et al. (2018): the stored
    weights ``V_l`` are drawn from ``N(0, 1 / lr_mul^2)`` and scaled at run
    time by ``c_l = lr_mul / sqrt(fan_in)``, and the stored biases ``b_l``
    by ``lr_mul``. An optimizer then moves every layer at the same relative
    speed, ``learning_rate_multiplier`` times the synthesis network's (0.01
    in the paper: ``w`` must change slowly, since every layer of the
    synthesis network reads it). ``sqrt(2)`` keeps the activations' scale
    through the leaky ReLU.

    Keras's ``Dense`` has no run-time weight scale or learning-rate
    multiplier, and a plain ``Dense`` stack would need its optimizer's
    learning rate split per layer, hence this layer. The arithmetic is done
    in the compute dtype; the pixel norm's mean of squares in float32.

    Example:

    >>> mapping = MappingNetwork(units=16, num_layers=2)
    >>> z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    >>> tuple(mapping(z).shape)
    (4, 16)

    Args:
        units: Width of every layer, which is the size of ``w``.
        num_layers: Number of fully connected layers (8 in the paper).
        learning_rate_multiplier: ``lr_mul`` above, a float in ``(0, 1]``.
        normalize_input: Whether to pixel-normalise ``z`` first.
        epsilon: Small float added inside the pixel norm's square root.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, latent_dim)`` latent codes.
    """

    def __init__(self, units, num_layers=8, learning_rate_multiplier=0.01,
                 normalize_input=True, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_positive_int("units", units)
        self.num_layers = _check_positive_int("num_layers", num_layers)
        if isinstance(learning_rate_multiplier, bool) or not (
                0.0 < learning_rate_multiplier <= 1.0):
            raise ValueError("`learning_rate_multiplier` must be in (0, 1]. "
                             f"Received: learning_rate_multiplier={learning_rate_multiplier}")
        self.learning_rate_multiplier = float(learning_rate_multiplier)
        if not isinstance(normalize_input, bool):
            raise ValueError(f"`normalize_input` must be a bool. "
                             f"Received: normalize_input={normalize_input}")
        self.normalize_input = normalize_input
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError("MappingNetwork expects inputs of shape (batch, latent_dim). "
                             f"Received: input_shape={input_shape}")
        fan_in = input_shape[-1]
        self.kernels, self.biases, self.kernel_scales = [], [], []
        for index in range(self.num_layers):
            self.kernels.append(self.add_weight(
                name=f"kernel_{index}", shape=(fan_in, self.units),
                initializer=keras.initializers.RandomNormal(
                    stddev=1.0 / self.learning_rate_multiplier)))
            self.biases.append(self.add_weight(name=f"bias_{index}", shape=(self.units,),
                                               initializer="zeros"))
            self.kernel_scales.append(self.learning_rate_multiplier / math.sqrt(fan_in))
            fan_in = self.units

    def call(self, inputs):
        x = inputs
        if self.normalize_input:
            z = keras.ops.cast(x, "float32")
            z = z * keras.ops.rsqrt(keras.ops.mean(keras.ops.square(z), axis=-1, keepdims=True)
                                    + self.epsilon)
            x = keras.ops.cast(z, self.compute_dtype)
        gain = math.sqrt(2.0)
        for kernel, bias, scale in zip(self.kernels, self.biases, self.kernel_scales):
            x = keras.ops.matmul(x, kernel * scale) + bias * self.learning_rate_multiplier
            x = keras.ops.leaky_relu(x, negative_slope=0.2) * gain
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "num_layers": self.num_layers,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "normalize_input": self.normalize_input,
            "epsilon": self.epsilon,
        })
        return config
