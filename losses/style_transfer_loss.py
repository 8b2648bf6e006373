"""The total cost of neural style transfer, as a Keras loss."""

import keras

from dlsuite.losses.content_cost import content_cost
from dlsuite.losses.style_cost import style_cost
from dlsuite.losses.total_variation import total_variation

STYLE_NORMALIZATIONS = ("layer", "image")


def _float_list(values, name):
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of numbers. Received: {name}={values!r}") from None


@keras.saving.register_keras_serializable(package="dlsuite")
class StyleTransferLoss(keras.losses.Loss):
    """``J(G) = alpha * J_content + beta * J_style (+ tv_weight * TV)``.

    Gatys et al., "Image Style Transfer Using Convolutional Neural Networks"
    (2016), equation 7, with the total-variation regulariser of Johnson et
    al. (2016)::

        J_content = mean_l content_cost(a_C[l], a_G[l])           (content layers)
        J_style   = sum_l lambda_l * style_layer_cost(a_S[l], a_G[l])  (style layers)
        J(G)      = alpha * J_content + beta * J_style + tv_weight * TV(G)

    with :func:`dlsuite.losses.content_cost`, :func:`dlsuite.losses.style_layer_cost` (each
    layer normalised by its own sizes) and :func:`dlsuite.losses.total_variation`.
    It works on activations, so any feature network fits (``dlsuite.layers.VGGFeatures``
    gives them), and on a batch: each generated image gets its own cost.

    ``y_true`` is a dict ``{"content": [a_C per content layer], "style":
    [a_S per style layer]}``; a style entry may be the precomputed
    ``gram_matrix(a_S, normalize=True)`` of a fixed style image, and a batch
    of one is used for every generated image. ``y_pred`` is ``{"content":
    [a_G per content layer], "style": [a_G per style layer], "images": G}``;
    ``"images"`` is needed for the TV term or keras-io's normalisation.
    :meth:`terms` returns every term per example, for logging.

    Example:

    >>> loss = StyleTransferLoss(alpha=1.0, beta=1.0)
    >>> a = np.ones((1, 4, 4, 2), "float32")
    >>> y_true = {"content": [a], "style": [a]}
    >>> y_pred = {"content": [a], "style": [np.zeros_like(a)]}
    >>> float(loss(y_true, y_pred))   # content 0 + style 0.25
    0.25

    Args:
        alpha: Weight of the content cost, >= 0. Defaults to ``10``.
        beta: Weight of the style cost, >= 0. Defaults to ``40`` (the
            curriculum's ``alpha = 10, beta = 40``).
        tv_weight: Weight of the total variation of ``y_pred["images"]``,
            >= 0. Defaults to ``0``.
        style_layer_weights: One weight ``lambda_l`` per style layer;
            ``None`` weighs each ``1 / L``.
        content_normalize: ``content_cost``'s ``normalize``. Defaults to
            ``True``.
        style_normalization: ``"layer"`` (each layer by its own sizes, the
            default) or ``"image"`` (keras-io's: every layer by the image's
            size and 3 channels; for comparison).
        reduction: Keras reduction over the batch. Defaults to
            ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation; float32 by default.
    """

    def __init__(self, alpha=10.0, beta=40.0, tv_weight=0.0, style_layer_weights=None,
                 content_normalize=True, style_normalization="layer",
                 reduction="sum_over_batch_size", name="style_transfer_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        for key, value in (("alpha", alpha), ("beta", beta), ("tv_weight", tv_weight)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
                raise ValueError(f"{key} must be a number >= 0. Received: {key}={value!r}")
        if style_normalization not in STYLE_NORMALIZATIONS:
            raise ValueError(f"style_normalization must be one of {STYLE_NORMALIZATIONS}. "
                             f"Received: style_normalization={style_normalization!r}")
        if style_layer_weights is not None:
            style_layer_weights = _float_list(style_layer_weights, "style_layer_weights")
            if not style_layer_weights or min(style_layer_weights) < 0:
                raise ValueError("style_layer_weights must be non-empty and >= 0. Received: "
                                 f"style_layer_weights={style_layer_weights}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.tv_weight = float(tv_weight)
        self.style_layer_weights = style_layer_weights
        self.content_normalize = bool(content_normalize)
        self.style_normalization = style_normalization

    def terms(self, y_true, y_pred):
        """Every term per example: ``{"content_cost", "style_cost",
        "total_variation", "loss"}``, each float32 ``(batch,)``; ``"loss"``
        is the weighted total."""
        for name, value in (("y_true", y_true), ("y_pred", y_pred)):
            if not isinstance(value, dict) or not {"content", "style"} <= set(value):
                raise ValueError(f"{name} must be a dict with 'content' and 'style' lists. "
                                 f"Received: {type(value).__name__}")
        images = y_pred.get("images")
        if images is None and (self.tv_weight or self.style_normalization == "image"):
            raise ValueError("y_pred needs 'images' for tv_weight > 0 or "
                             "style_normalization='image'")
        a_C, a_G_content = list(y_true["content"]), list(y_pred["content"])
        if not a_C or len(a_C) != len(a_G_content):
            raise ValueError("y_true and y_pred need the same non-empty list of content layers. "
                             f"Received: {len(a_C)} and {len(a_G_content)}")
        content = None
        for target, generated in zip(a_C, a_G_content):
            term = content_cost(target, generated, normalize=self.content_normalize)
            content = term if content is None else content + term
        content = content / float(len(a_C))
        image_size = None
        if self.style_normalization == "image":
            shape = keras.ops.shape(images)
            image_size = (shape[1], shape[2])
        style = style_cost(y_true["style"], y_pred["style"], self.style_layer_weights,
                           image_size=image_size)
        loss = self.alpha * content + self.beta * style
        variation = keras.ops.zeros_like(loss)
        if images is not None:
            variation = total_variation(images)
            loss = loss + self.tv_weight * variation
        return {"content_cost": content, "style_cost": style, "total_variation": variation,
                "loss": loss}

    def call(self, y_true, y_pred):
        return self.terms(y_true, y_pred)["loss"]

    def get_config(self):
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "tv_weight": self.tv_weight,
            "style_layer_weights": self.style_layer_weights,
            "content_normalize": self.content_normalize,
            "style_normalization": self.style_normalization,
            "name": self.name,
            "reduction": self.reduction,
            "dtype": self.dtype,
        }
