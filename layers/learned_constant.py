"""A learned constant tensor, repeated over the batch: StyleGAN's starting map."""

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class LearnedConstant(keras.layers.Layer):
    """A learned ``shape`` tensor, repeated for every example of the input's batch.

    Karras et al., "A Style-Based Generator Architecture for Generative
    Adversarial Networks" (2019), section 2: the synthesis network starts
    from a learned 4x4 constant instead of the latent code; everything that
    varies between images enters through the styles and the noise::

        y[b] = c        for every example b,   c ~ N(0, 1) at initialisation

    The input only sets the batch size (any tensor whose first axis is the
    batch, for example the styles). Keras has no layer with a learned
    output independent of its input, hence this one.

    Example:

    >>> const = LearnedConstant(shape=(4, 4, 8))
    >>> tuple(const(np.zeros((3, 16), "float32")).shape)
    (3, 4, 4, 8)

    Args:
        shape: Tuple of positive ints, the constant's shape without the batch.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: Any tensor of shape ``(batch, ...)``.
    """

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        if (not isinstance(shape, (list, tuple)) or not shape
                or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)):
            raise ValueError(f"`shape` must be a non-empty tuple of positive ints. "
                             f"Received: shape={shape}")
        self.shape = tuple(shape)

    def build(self, input_shape):
        self.constant = self.add_weight(name="constant", shape=self.shape,
                                        initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, inputs):
        batch = keras.ops.shape(inputs)[0]
        return keras.ops.broadcast_to(self.constant[None], (batch, *self.shape))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.shape)

    def get_config(self):
        config = super().get_config()
        config.update({"shape": list(self.shape)})
        return config
