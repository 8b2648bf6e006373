"""A Keras mask from NaN padding, for sequences of varying length."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlsuite")
class NaNMasking(keras.layers.Layer):
    """Mask the time steps of NaN-padded sequences and zero the padding.

    Series of different lengths are padded after their end with NaN (the
    convention of sktime's unequal-length panels). For inputs ``x`` of shape
    ``(batch, steps, features)``::

        mask[b, t]      = not all_f isnan(x[b, t, f])
        output[b, t, f] = 0 if isnan(x[b, t, f]) else x[b, t, f]

    The mask travels with the output to the next layers, so a recurrent
    layer carries its state over padded steps unchanged and a
    ``Bidirectional`` one starts its backward pass at each series' real end:
    the padded batch gives the same results as each series on its own.

    Why not ``keras.layers.Masking``: it masks steps equal to a
    ``mask_value``, and NaN equals nothing (``Masking(mask_value=nan)``
    masks no step), while any finite sentinel can collide with a real
    reading. The zeros also keep NaN out of the arithmetic of the masked
    steps (``0 * NaN`` is NaN). It has no weights.

    Example:

    >>> x = np.array([[[1.0], [2.0], [np.nan]]], "float32")
    >>> layer = NaNMasking()
    >>> layer.compute_mask(x).numpy().tolist()
    [[True, True, False]]
    >>> layer(x).numpy()[0, :, 0].tolist()
    [1.0, 2.0, 0.0]

    Args:
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: A float tensor ``(batch, steps, features)``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return ops.logical_not(ops.all(ops.isnan(inputs), axis=-1))

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(
                "NaNMasking expects inputs of shape (batch, steps, features). Received: "
                f"inputs.shape={inputs.shape}"
            )
        return ops.where(ops.isnan(inputs), ops.zeros_like(inputs), inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return super().get_config()
