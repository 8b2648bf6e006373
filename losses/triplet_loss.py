"""Triplet loss (FaceNet), on given triplets and with online mining in a batch.

TensorFlow Addons' ``TripletSemiHardLoss`` / ``TripletHardLoss`` reached end
of life in May 2024 and do not run with Keras 3; Keras, keras-hub and
keras-rs ship no triplet loss, hence this one, in ``keras.ops`` only.
"""

import keras
from keras import ops

from dlsuite.losses.pairwise_distances import check_distance, pairwise_distances

MINING = ("all", "hard", "semi_hard")


def triplet_loss(anchor, positive, negative, margin=0.2):
    """Per-example triplet loss of Schroff et al., "FaceNet" (2015), eq. 1::

        L(A, P, N) = max(0, ||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + margin)

    with ``f(.)`` the embeddings given (of the anchor, a positive of the
    same identity, a negative of another). Computed in float32 whatever the
    input dtype.

    Example:

    >>> a, p, n = np.array([[0.0, 1.0]]), np.array([[0.0, 0.8]]), np.array([[1.0, 0.0]])
    >>> round(float(triplet_loss(a, p, n, margin=0.2)[0]), 4)  # 0.04 - 2 + 0.2 < 0
    0.0
    >>> round(float(triplet_loss(a, n, p, margin=0.2)[0]), 4)  # 2 - 0.04 + 0.2
    2.16

    Args:
        anchor: Tensor ``(batch, d)``.
        positive: Tensor ``(batch, d)``.
        negative: Tensor ``(batch, d)``.
        margin: Float ``>= 0``, the margin ``alpha``. Defaults to ``0.2``.

    Returns:
        Float32 tensor ``(batch,)``.
    """
    margin = _check_margin(margin)
    anchor, positive, negative = (ops.cast(ops.convert_to_tensor(t), "float32")
                                  for t in (anchor, positive, negative))
    if not tuple(anchor.shape) == tuple(positive.shape) == tuple(negative.shape):
        raise ValueError(
            "anchor, positive and negative must have the same shape. Received: "
            f"anchor.shape={tuple(anchor.shape)}, positive.shape={tuple(positive.shape)}, "
            f"negative.shape={tuple(negative.shape)}"
        )
    positive_distance = ops.sum(ops.square(anchor - positive), axis=-1)
    negative_distance = ops.sum(ops.square(anchor - negative), axis=-1)
    return ops.relu(positive_distance - negative_distance + margin)


def _check_margin(margin):
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"`margin` must be a float >= 0. Received: margin={margin!r}")
    return float(margin)


def _first_true_at_or_after(mask, start):
    """Per row of the bool ``mask (n, m)``: the column of the first True at
    a column ``>= start (n, k)`` (int), found without a loop: the True
    columns sorted first, and the count of Trues before ``start``. Also
    returns whether there is one. Where there is none the column is
    clipped to ``m - 1``."""
    width = ops.shape(mask)[1]
    columns = ops.arange(width)[None, :]
    true_columns = ops.argsort(ops.where(mask, columns, width + columns), axis=1)
    counts = ops.cumsum(ops.cast(mask, "int32"), axis=1)
    before = ops.concatenate([ops.zeros_like(counts[:, :1]), counts[:, :-1]], axis=1)
    before_start = ops.take_along_axis(before, ops.minimum(start, width - 1), axis=1)
    found = ops.logical_and(ops.less(before_start, counts[:, -1:]), ops.less(start, width))
    column = ops.take_along_axis(true_columns, ops.minimum(before_start, width - 1), axis=1)
    return column, found


def semi_hard_negatives(distances, negative_mask):
    """For each anchor ``a`` and column ``p``: the smallest ``D[a, n]`` over
    negatives ``n`` with ``D[a, n] > D[a, p]`` (strictly), and whether one
    exists.

    O(n^2 log n) time and O(n^2) memory: each row is sorted once; the
    semi-hard negative of a column is the first negative after the last
    entry equal to it in sorted order (ties are resolved exactly, as a
    dense ``(n, n, n)`` comparison would). Gradients reach ``distances``
    through the gathered values.
    """
    order = ops.argsort(distances, axis=1)
    sorted_distances = ops.take_along_axis(distances, order, axis=1)
    sorted_negative = ops.take_along_axis(negative_mask, order, axis=1)
    # The last position of each run of equal values in a sorted row.
    following = ops.concatenate(
        [sorted_distances[:, 1:], ops.full_like(sorted_distances[:, :1], -1.0)], axis=1)
    run_ends = ops.not_equal(sorted_distances, following)
    width = ops.shape(distances)[1]
    positions = ops.broadcast_to(ops.arange(width)[None, :], ops.shape(order))
    run_end, _ = _first_true_at_or_after(run_ends, positions)
    negative, found = _first_true_at_or_after(sorted_negative, run_end + 1)
    values = ops.take_along_axis(sorted_distances, negative, axis=1)
    # Back from sorted positions to the columns of ``distances``.
    inverse = ops.argsort(order, axis=1)
    return (ops.take_along_axis(values, inverse, axis=1),
            ops.take_along_axis(found, inverse, axis=1))


def batch_triplet_loss(labels, embeddings, margin=0.2, mining="semi_hard",
                       distance="squared_l2", block_size=None):
    """Triplet loss with triplets mined online in a batch of labelled embeddings.

    See :class:`TripletLoss` for the mining rules, the blocks and the
    formula. Returns the scalar loss (float32).
    """
    margin = _check_margin(margin)
    _check_mining(mining)
    check_distance(distance)
    block_size = _check_block_size(block_size)
    labels = ops.reshape(ops.convert_to_tensor(labels), (-1,))
    embeddings = ops.cast(ops.convert_to_tensor(embeddings), "float32")
    distances = pairwise_distances(embeddings, distance)
    size = ops.shape(labels)[0]
    index = ops.arange(size)
    same_label = ops.equal(labels[:, None], labels[None, :])
    if block_size is None:
        same_block = ops.ones_like(same_label)
        blocks = 1.0
    else:
        block = index // block_size
        same_block = ops.equal(block[:, None], block[None, :])
        blocks = ops.ceil(ops.cast(size, "float32") / block_size)
    not_self = ops.not_equal(index[:, None], index[None, :])
    positive_mask = ops.logical_and(ops.logical_and(same_label, not_self), same_block)
    negative_mask = ops.logical_and(ops.logical_not(same_label), same_block)
    has_negative = ops.any(negative_mask, axis=1, keepdims=True)
    positive_float = ops.cast(positive_mask, "float32")
    # A finite stand-in for "no such distance" keeps every gradient finite.
    beyond = ops.stop_gradient(ops.max(distances)) + margin + 1.0

    if mining == "hard":
        hardest_positive = ops.max(distances * positive_float, axis=1)
        hardest_negative = ops.min(ops.where(negative_mask, distances, beyond), axis=1)
        valid = ops.logical_and(ops.any(positive_mask, axis=1), has_negative[:, 0])
        counts = ops.cast(valid, "float32")
        terms = counts * ops.relu(hardest_positive - hardest_negative + margin)
    elif mining == "semi_hard":
        semi_hard, found = semi_hard_negatives(distances, negative_mask)
        farthest = ops.max(ops.where(negative_mask, distances, 0.0), axis=1, keepdims=True)
        negative = ops.where(found, semi_hard, farthest)
        pairs = ops.cast(ops.logical_and(positive_mask, has_negative), "float32")
        counts = ops.sum(pairs, axis=1)
        terms = ops.sum(pairs * ops.relu(distances - negative + margin), axis=1)
    else:  # "all": an (n, n, n) tensor of every (anchor, positive, negative)
        valid = ops.logical_and(positive_mask[:, :, None], negative_mask[:, None, :])
        losses = ops.where(valid, distances[:, :, None] - distances[:, None, :] + margin, 0.0)
        losses = ops.relu(losses)
        counts = ops.sum(ops.cast(ops.greater(losses, 0.0), "float32"), axis=(1, 2))
        terms = ops.sum(losses, axis=(1, 2))
    # Mean within each block, then mean over blocks: block_count_i is the
    # count of the block of anchor i, so sum_i terms_i / block_count_i is
    # the sum over blocks of each block's mean.
    block_counts = ops.matmul(ops.cast(same_block, "float32"), counts[:, None])[:, 0]
    return ops.sum(terms / ops.maximum(block_counts, 1.0)) / blocks


def _check_mining(mining):
    if mining not in MINING:
        raise ValueError(f"`mining` must be one of {', '.join(MINING)}. Received: mining={mining!r}")
    return mining


def _check_block_size(block_size):
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 2:
        raise ValueError(
            f"`block_size` must be None or an int >= 2. Received: block_size={block_size!r}")
    return block_size


@keras.saving.register_keras_serializable(package="dlsuite")
class TripletLoss(keras.losses.Loss):
    """Triplet loss with online triplet mining, for ``model.compile(loss=...)``.

    ``y_true`` holds integer identity labels ``(batch,)``, ``y_pred`` the
    embeddings ``(batch, d)`` (L2-normalised by ``keras.layers.
    UnitNormalization``, as FaceNet does). Every triplet ``(a, p, n)`` of
    the batch with ``label(a) = label(p)``, ``a != p`` and ``label(n) !=
    label(a)`` is a candidate, with the distance ``d`` (``"squared_l2"``,
    ``"l2"`` or ``"cosine"``, see :func:`pairwise_distances`) and

        l(a, p, n) = max(0, d(a, p) - d(a, n) + margin)

    ``mining`` picks which enter the mean:

    * ``"all"`` (batch-all): the mean of ``l`` over the candidate triplets
      whose ``l > 0`` (Hermans et al., "In Defense of the Triplet Loss",
      2017). Holds an ``(n, n, n)`` tensor: batches up to a few hundred.
    * ``"hard"`` (batch-hard): per anchor, the farthest positive and the
      closest negative, ``max(0, max_p d(a, p) - min_n d(a, n) + margin)``;
      the mean over anchors that have both (Hermans et al.).
    * ``"semi_hard"`` (default; FaceNet section 3.2, as TensorFlow Addons'
      ``TripletSemiHardLoss`` computed it): per anchor-positive pair, the
      closest negative farther than the positive, ``min {d(a, n) : d(a, n)
      > d(a, p)}``, else the farthest negative; the mean over all
      anchor-positive pairs. O(n^2 log n) time, O(n^2) memory.

    An anchor without a positive or without a negative in its block takes
    part in no triplet (Addons charged ``margin + d(a, p)`` when a batch had
    one label); a batch with no triplet gives 0. Loss and gradients stay
    finite when a label has no positive or no negative, when embeddings
    coincide (``l2``'s square root gets a zero gradient at 0) and under
    mixed precision (everything is float32).

    **Blocks, and distribution strategies.** ``block_size=None`` mines over
    the whole batch each call sees. ``block_size=B`` splits the batch into
    consecutive blocks of ``B`` examples, mines inside each block only, and
    returns the mean over blocks of each block's mean. Under a
    ``tf.distribute`` strategy each replica calls the loss on its own
    slice of the global batch and Keras averages the replicas' losses (its
    ``sum_over_batch_size`` reduction divides by the replica count, the
    gradients are summed). So with ``B`` = the per-replica batch (or a
    divisor of it), and a global batch of ``replicas x B`` examples laid
    out in whole blocks, one replica and ``N`` replicas compute the same
    loss and take the same step: both are the mean over the same blocks of
    the same per-block means. This holds exactly (to float rounding) when
    every replica's slice is a whole number of blocks; a short last batch
    splits differently and only that batch's loss differs. With
    ``block_size=None`` it holds only for one replica. (Layers that use
    batch statistics, such as unsynchronised batch normalisation, differ
    per replica on their own.)

    The loss is the scalar above, returned as shape ``(1,)`` so that Keras's
    reduction (which leaves a 0-d loss unscaled) applies the strategy's
    ``1 / replicas``.

    Example:

    >>> loss = TripletLoss(margin=0.2, mining="hard")
    >>> labels = np.array([0, 0, 1])
    >>> embeddings = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> # squared distances d01 = 2, d02 = 0.8, d12 = 0.4; anchor 2 has no positive
    >>> round(float(loss(labels, embeddings)), 4)  # mean(2 - 0.8 + 0.2, 2 - 0.4 + 0.2)
    1.6

    ```python
    model.compile(optimizer="adam", loss=TripletLoss(margin=0.2))
    model.fit(images, identity_labels, batch_size=64)   # P x K batches work best
    ```

    Args:
        margin: Float ``>= 0``. Defaults to ``0.2``.
        mining: ``"semi_hard"`` (default), ``"hard"`` or ``"all"``.
        distance: ``"squared_l2"`` (default), ``"l2"`` or ``"cosine"``.
        block_size: None (default: the whole batch) or an int ``>= 2``:
            mine within consecutive blocks of this many examples.
        reduction: Keras reduction. Defaults to ``"sum_over_batch_size"``.
        name: Name of the loss instance.
        dtype: Dtype of the loss computation (float32 by default).
    """

    def __init__(self, margin=0.2, mining="semi_hard", distance="squared_l2", block_size=None,
                 reduction="sum_over_batch_size", name="triplet_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.margin = _check_margin(margin)
        self.mining = _check_mining(mining)
        self.distance = check_distance(distance)
        self.block_size = _check_block_size(block_size)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        if len(y_pred.shape) != 2:
            raise ValueError(
                "y_pred must be embeddings (batch, d). Received: "
                f"y_pred.shape={tuple(y_pred.shape)}")
        loss = batch_triplet_loss(y_true, y_pred, self.margin, self.mining, self.distance,
                                  self.block_size)
        return ops.reshape(loss, (1,))

    def get_config(self):
        return {
            "margin": self.margin,
            "mining": self.mining,
            "distance": self.distance,
            "block_size": self.block_size,
            "name": self.name,
            "reduction": self.reduction,
            "dtype": self.dtype,
        }
