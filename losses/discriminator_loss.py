"""The GAN discriminator's loss, from logits, with one-sided label smoothing."""

import keras


def _check_label_smoothing(label_smoothing):
    if isinstance(label_smoothing, bool) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(
            "`label_smoothing` must be a float in [0, 1). "
            f"Received: label_smoothing={label_smoothing}"
        )
    return float(label_smoothing)


def _per_example_mean(values):
    axes = tuple(range(1, len(values.shape)))
    return keras.ops.mean(values, axis=axes) if axes else values


def _logits_as_float32(logits):
    return keras.ops.cast(keras.ops.convert_to_tensor(logits), "float32")


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """Per-example binary cross-entropy of a GAN discriminator, from logits.

    Goodfellow et al., "Generative Adversarial Nets" (2014): the
    discriminator maximises ``log D(x) + log(1 - D(G(z)))``. With
    ``D = sigmoid(logit)`` and the real target smoothed to ``1 - s``
    (one-sided label smoothing, Salimans et al., "Improved Techniques for
    Training GANs", 2016, section 3.4; fake targets stay 0)::

        L_D = BCE(1 - s, real_logit) + BCE(0, fake_logit)
        BCE(t, l) = softplus(l) - t * l      # = -t log σ(l) - (1-t) log(1-σ(l))

    computed from logits (``softplus`` is stable where ``log(sigmoid)``
    underflows) and in float32 whatever the input dtype. Logits with more
    than one value per example (a PatchGAN map) are averaged per example.

    ``keras.losses.binary_crossentropy`` smooths both labels towards 0.5;
    one-sided smoothing of the real label only is not in Keras, hence this
    function.

    Example:

    >>> real, fake = np.array([[10.0]]), np.array([[-10.0]])  # a sure D
    >>> float(discriminator_loss(real, fake)[0]) < 1e-3
    True
    >>> float(discriminator_loss(np.zeros((1, 1)), np.zeros((1, 1)))[0])  # 2 log 2
    1.3862943649291992

    Args:
        real_logits: Tensor ``(batch, ...)``, the discriminator's logits on
            real examples.
        fake_logits: Tensor of the same shape, its logits on generated ones.
        label_smoothing: Float ``s`` in ``[0, 1)``; the real target is
            ``1 - s``. Defaults to ``0.0``.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    label_smoothing = _check_label_smoothing(label_smoothing)
    real_logits = _logits_as_float32(real_logits)
    fake_logits = _logits_as_float32(fake_logits)
    if tuple(real_logits.shape[1:]) != tuple(fake_logits.shape[1:]):
        raise ValueError(
            "real_logits and fake_logits must have the same shape. Received: "
            f"real_logits.shape={tuple(real_logits.shape)}, "
            f"fake_logits.shape={tuple(fake_logits.shape)}"
        )
    real_term = keras.ops.softplus(real_logits) - (1.0 - label_smoothing) * real_logits
    fake_term = keras.ops.softplus(fake_logits)
    return _per_example_mean(real_term) + _per_example_mean(fake_term)


@keras.saving.register_keras_serializable(package="dlsuite")
class DiscriminatorLoss(keras.losses.Loss):
    """A GAN discriminator's loss for ``model.fit`` on mixed real/fake batches.

    ``y_true`` marks each example real (1) or generated (0); ``y_pred`` is
    the discriminator's logit. Each example's loss is the matching term of
    :func:`discriminator_loss`::

        loss = BCE((1 - s) * y_true, logit),   BCE(t, l) = softplus(l) - t * l

    so a batch of ``N`` real and ``N`` fake examples with ``reduction="sum"``
    gives ``sum(discriminator_loss(real_logits, fake_logits, s))``.

    Example:

    >>> loss = DiscriminatorLoss(label_smoothing=0.1)
    >>> y_true = np.array([[1.0], [0.0]])
    >>> logits = np.array([[3.0], [-3.0]])
    >>> round(float(loss(y_true, logits)), 4)
    0.1986

    Args:
        label_smoothing: Float in ``[0, 1)``, one-sided smoothing of the real
            label. Defaults to ``0.0``.
        reduction: Keras reduction over the batch. Defaults to
            ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation.
    """

    def __init__(
        self,
        label_smoothing=0.0,
        reduction="sum_over_batch_size",
        name="discriminator_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = _check_label_smoothing(label_smoothing)

    def call(self, y_true, y_pred):
        logits = _logits_as_float32(y_pred)
        is_real = keras.ops.cast(y_true, "float32")
        # Labels of shape (batch,) against logits (batch, 1) or a patch map.
        while len(is_real.shape) < len(logits.shape):
            is_real = keras.ops.expand_dims(is_real, axis=-1)
        # y_true == 1 rows take the real term, y_true == 0 rows the fake one.
        target = (1.0 - self.label_smoothing) * is_real
        return _per_example_mean(keras.ops.softplus(logits) - target * logits)

    def get_config(self):
        return {
            "label_smoothing": self.label_smoothing,
            "name": self.name,
            "reduction": self.reduction,
            "dtype": self.dtype,
        }
