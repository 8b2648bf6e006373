"""The GAN generator's non-saturating loss, from logits."""

import keras


def generator_loss(fake_logits):
    """Per-example non-saturating loss of a GAN generator, from logits.

    Goodfellow et al., "Generative Adversarial Nets" (2014), section 3:
    instead of minimising ``log(1 - D(G(z)))``, which saturates (its gradient
    vanishes) while the discriminator wins early in training, the generator
    maximises ``log D(G(z))``. With ``D = sigmoid(logit)``::

        L_G = -log sigmoid(fake_logit) = softplus(-fake_logit)

    i.e. binary cross-entropy against the *real* label. Computed from logits
    and in float32 whatever the input dtype; logits with more than one value
    per example are averaged per example. Label smoothing is one-sided (real
    labels of the discriminator only), so the generator has none.

    Example:

    >>> float(generator_loss(np.zeros((1, 1)))[0])  # log 2
    0.6931471824645996

    Args:
        fake_logits: Tensor ``(batch, ...)``, the discriminator's logits on
            generated examples.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    logits = keras.ops.cast(keras.ops.convert_to_tensor(fake_logits), "float32")
    values = keras.ops.softplus(-logits)
    axes = tuple(range(1, len(values.shape)))
    return keras.ops.mean(values, axis=axes) if axes else values


@keras.saving.register_keras_serializable(package="dlsuite")
class GeneratorLoss(keras.losses.Loss):
    """A GAN generator's non-saturating loss, as a Keras loss.

    Wraps :func:`generator_loss`; ``y_true`` is ignored (the target is
    always "real") and ``y_pred`` is the discriminator's logit on generated
    examples::

        L_G = softplus(-fake_logit)

    Example:

    >>> loss = GeneratorLoss()
    >>> round(float(loss(np.ones((2, 1)), np.zeros((2, 1)))), 4)
    0.6931

    Args:
        reduction: Keras reduction over the batch. Defaults to
            ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation.
    """

    def __init__(self, reduction="sum_over_batch_size", name="generator_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return generator_loss(y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}
