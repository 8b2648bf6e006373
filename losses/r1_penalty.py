"""The R1 gradient penalty of a GAN discriminator on real data."""

import keras


def _check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma >= 0:
        raise ValueError(f"`gamma` must be a float >= 0. Received: gamma={gamma}")
    return float(gamma)


def _check_interval(interval):
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise ValueError(f"`interval` must be a positive int. Received: interval={interval}")
    return interval


def r1_penalty(real_gradients, gamma=10.0, interval=1):
    """Per-example R1 penalty from the discriminator's gradient on real data.

    Mescheder et al., "Which Training Methods for GANs do actually
    Converge?" (2018), eq. 9: penalise the discriminator's gradient on real
    data only, which keeps it from pushing the generator away once their
    distributions agree::

        R1(x) = gamma / 2 * || d D(x) / d x ||^2

    with lazy regularisation (Karras et al., "Analyzing and Improving the
    Image Quality of StyleGAN", 2020, section 3.1): computed only every
    ``interval`` steps, and multiplied by ``interval`` there, so that on
    average it weighs what a per-step penalty would.

    The gradient itself is the caller's: it is a nested gradient (the
    penalty is differentiated again with respect to the discriminator's
    weights), which each backend computes its own way; the TensorFlow apps
    take it with ``MultiOptimizerModel.input_gradient``, which also
    loss-scales it under ``mixed_float16``. This function is the part every
    backend shares. Computed in float32.

    Example:

    >>> gradients = np.full((2, 4, 4, 1), 0.5, "float32")   # ||g||^2 = 4
    >>> [float(v) for v in r1_penalty(gradients, gamma=1.0)]
    [2.0, 2.0]
    >>> [float(v) for v in r1_penalty(gradients, gamma=1.0, interval=4)]
    [8.0, 8.0]

    Args:
        real_gradients: Tensor ``(batch, ...)``, the gradient of the
            discriminator's summed logits with respect to the real inputs.
        gamma: Float >= 0, the penalty's weight.
        interval: Positive int, the lazy regularisation interval (the
            result is multiplied by it; 1 = every step).

    Returns:
        Float32 tensor ``(batch,)``.
    """
    gamma = _check_gamma(gamma)
    interval = _check_interval(interval)
    gradients = keras.ops.cast(keras.ops.convert_to_tensor(real_gradients), "float32")
    if len(gradients.shape) < 1:
        raise ValueError("real_gradients must have a batch axis. "
                         f"Received: real_gradients.shape={tuple(gradients.shape)}")
    squares = keras.ops.square(gradients)
    axes = tuple(range(1, len(gradients.shape)))
    norms = keras.ops.sum(squares, axis=axes) if axes else squares
    return (0.5 * gamma * interval) * norms


@keras.saving.register_keras_serializable(package="dlsuite")
class R1Penalty(keras.losses.Loss):
    """The R1 penalty as a Keras loss: ``y_pred`` is the discriminator's
    gradient on real inputs, ``y_true`` is ignored (any tensor with the
    batch axis).

    Each example's loss is :func:`r1_penalty`::

        loss = interval * gamma / 2 * ||y_pred||^2

    Example:

    >>> loss = R1Penalty(gamma=2.0)
    >>> gradients = np.ones((3, 2, 2, 1), "float32")   # ||g||^2 = 4
    >>> float(loss(np.zeros(3), gradients))
    4.0

    Args:
        gamma: Float >= 0, the penalty's weight. Defaults to ``10.0``.
        interval: Positive int, the lazy regularisation interval.
        reduction: Keras reduction over the batch. Defaults to
            ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation.
    """

    def __init__(self, gamma=10.0, interval=1, reduction="sum_over_batch_size",
                 name="r1_penalty", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.gamma = _check_gamma(gamma)
        self.interval = _check_interval(interval)

    def call(self, y_true, y_pred):
        return r1_penalty(y_pred, self.gamma, self.interval)

    def get_config(self):
        return {
            "gamma": self.gamma,
            "interval": self.interval,
            "name": self.name,
            "reduction": self.reduction,
            "dtype": self.dtype,
        }
