"""KL divergence of a diagonal Gaussian from the standard normal (VAE)."""

import keras


def kl_divergence(z_mean, z_log_var):
    """Per-example ``KL(q(z|x) || N(0, I))`` of a diagonal Gaussian ``q``.

    Kingma and Welling, "Auto-Encoding Variational Bayes" (2014), appendix B.
    With ``q(z|x) = N(mu, diag(exp(log_var)))`` over ``d`` latent
    dimensions::

        KL = sum_j -0.5 * (1 + log_var_j - mu_j ** 2 - exp(log_var_j))

    It is zero exactly when ``mu = 0`` and ``log_var = 0``. Computed in
    float32 whatever the input dtype.

    ``keras.losses.KLDivergence`` compares two discrete distributions given
    as probability vectors; this closed form for Gaussians given by their
    parameters is not in Keras, hence this function.

    Example:

    >>> kl = kl_divergence(np.zeros((2, 3)), np.zeros((2, 3)))  # N(0, I) itself
    >>> keras.ops.convert_to_numpy(kl)
    array([0., 0.], dtype=float32)
    >>> float(kl_divergence(np.ones((1, 2)), np.zeros((1, 2)))[0])  # 2 * 0.5
    1.0

    Args:
        z_mean: Tensor ``(batch, ..., latent_dim)``, the mean ``mu``.
        z_log_var: Tensor of the same shape, the log-variance ``log_var``.

    Returns:
        Float32 tensor ``(batch,)``: the divergence of each example, summed
        over every non-batch axis.
    """
    z_mean = keras.ops.cast(keras.ops.convert_to_tensor(z_mean), "float32")
    z_log_var = keras.ops.cast(keras.ops.convert_to_tensor(z_log_var), "float32")
    if tuple(z_mean.shape) != tuple(z_log_var.shape):
        raise ValueError(
            "z_mean and z_log_var must have the same shape. Received: "
            f"z_mean.shape={tuple(z_mean.shape)}, "
            f"z_log_var.shape={tuple(z_log_var.shape)}"
        )
    terms = -0.5 * (1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var))
    axes = tuple(range(1, len(terms.shape)))
    if not axes:
        return terms
    return keras.ops.sum(terms, axis=axes)


@keras.saving.register_keras_serializable(package="dlsuite")
class KLDivergence(keras.losses.Loss):
    """``KL(q(z|x) || N(0, I))`` of a diagonal Gaussian, as a Keras loss.

    Wraps :func:`kl_divergence`. ``y_true`` is ignored (the prior is fixed;
    pass any array, ``fit`` passes its targets);
    ``y_pred`` holds ``mu`` and ``log_var`` concatenated on the last axis,
    ``(batch, 2 * latent_dim)``, so that the loss fits ``model.compile``::

        KL = sum_j -0.5 * (1 + log_var_j - mu_j ** 2 - exp(log_var_j))

    Example:

    >>> loss = KLDivergence()
    >>> y_pred = np.concatenate([np.ones((1, 2)), np.zeros((1, 2))], axis=-1)
    >>> float(loss(np.zeros((1, 4)), y_pred))
    1.0

    Args:
        reduction: Keras reduction over the batch. Defaults to
            ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation.
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = keras.ops.convert_to_tensor(y_pred)
        if y_pred.shape[-1] is not None and y_pred.shape[-1] % 2:
            raise ValueError(
                "y_pred must hold z_mean and z_log_var concatenated on the last "
                f"axis (an even size). Received: y_pred.shape={tuple(y_pred.shape)}"
            )
        z_mean, z_log_var = keras.ops.split(y_pred, 2, axis=-1)
        return kl_divergence(z_mean, z_log_var)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}
