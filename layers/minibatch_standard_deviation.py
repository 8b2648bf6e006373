"""Minibatch standard deviation: a discriminator feature that sees variety."""

import keras


@keras.saving.register_keras_serializable(package="dlsuite")
class MinibatchStandardDeviation(keras.layers.Layer):
    """Append the average standard deviation over a group of examples as one
    more feature map.

    Karras et al., "Progressive Growing of GANs" (2018), section 3: a
    discriminator that sees one example at a time cannot tell a generator
    that makes the same image every time from one that makes many. This
    layer gives every example one extra channel holding how much the
    examples of its group differ::

        sigma[g, h, w, c] = sqrt(Var_{i in group g} x[i, h, w, c] + epsilon)
        y = concat(x, mean_{h, w, c} sigma[g]  broadcast to (height, width, 1))

    Groups are ``group_size`` CONSECUTIVE examples (StyleGAN's code takes
    strided ones): under ``MirroredStrategy`` each replica holds a
    contiguous slice of the global batch, so when the per-replica batch is
    a multiple of ``group_size`` the groups, and the outputs, are those of a
    single device. A batch that ``group_size`` does not divide (the last,
    partial batch of an epoch) uses the largest group size that divides it.

    Computed in float32 whatever the compute dtype; the result is cast to
    it. Keras has no such layer, hence this one.

    Example:

    >>> layer = MinibatchStandardDeviation(group_size=2)
    >>> x = np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 2.0)]).astype("float32")
    >>> y = layer(x)
    >>> tuple(y.shape), round(float(y[0, 0, 0, 1]), 4)    # std of {0, 2} is 1
    ((2, 2, 2, 2), 1.0)

    Args:
        group_size: Positive int, the examples per group.
        epsilon: Small float added to the variance.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: ``(batch, height, width, channels)`` feature maps.
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"`group_size` must be a positive int. Received: group_size={group_size}")
        if not epsilon > 0:
            raise ValueError(f"`epsilon` must be > 0. Received: epsilon={epsilon}")
        self.group_size = group_size
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError("MinibatchStandardDeviation expects inputs of shape (batch, height, "
                             f"width, channels). Received: input_shape={input_shape}")

    def _group(self, batch):
        """The largest size <= group_size that divides ``batch`` (a tensor)."""
        group = keras.ops.convert_to_tensor(1, "int32")
        for size in range(2, self.group_size + 1):
            group = keras.ops.where(keras.ops.equal(batch % size, 0), size, group)
        return group

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        shape = keras.ops.shape(x)
        batch, height, width = shape[0], shape[1], shape[2]
        group = self._group(batch)
        grouped = keras.ops.reshape(x, (-1, group, height, width, shape[3]))
        deviation = keras.ops.sqrt(keras.ops.var(grouped, axis=1) + self.epsilon)
        per_group = keras.ops.mean(deviation, axis=(1, 2, 3))  # (batch / group,)
        per_example = keras.ops.repeat(per_group, group, axis=0)
        feature = keras.ops.broadcast_to(per_example[:, None, None, None],
                                         (batch, height, width, 1))
        return keras.ops.concatenate(
            [inputs, keras.ops.cast(feature, self.compute_dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else input_shape[-1] + 1
        return (*input_shape[:-1], channels)

    def get_config(self):
        config = super().get_config()
        config.update({"group_size": self.group_size, "epsilon": self.epsilon})
        return config
