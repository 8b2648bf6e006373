"""Distances between every two embeddings of a batch (metric learning)."""

from keras import ops

DISTANCES = ("squared_l2", "l2", "cosine")


def check_distance(distance):
    """``distance`` if it is one of :data:`DISTANCES`, else ``ValueError``."""
    if distance not in DISTANCES:
        raise ValueError(
            f"`distance` must be one of {', '.join(DISTANCES)}. Received: distance={distance!r}"
        )
    return distance


def pairwise_distances(embeddings, distance="squared_l2"):
    """The ``(n, n)`` matrix of distances between the rows of ``embeddings``.

    With ``x_i`` the rows (computed in float32 whatever their dtype)::

        squared_l2:  D_ij = ||x_i - x_j||^2 = ||x_i||^2 - 2 x_i.x_j + ||x_j||^2
        l2:          D_ij = ||x_i - x_j||
        cosine:      D_ij = 1 - x_i.x_j / (||x_i|| ||x_j||)

    The expanded square is clipped at 0 (rounding makes it slightly negative
    for near-equal rows) and the diagonal is exactly 0. ``l2`` is the
    square root with a zero gradient, not an infinite one, where two rows
    coincide: ``sqrt`` has no derivative at 0, and a batch whose embeddings
    collapse to one point would otherwise give NaN gradients. A zero row has
    cosine distance 1 to every other row. On unit vectors (Keras's
    ``UnitNormalization``) ``cosine`` is ``squared_l2 / 2``.

    Written with ``keras.ops`` (no ``scipy.spatial.distance.cdist`` on
    tensors, and no Keras op gives the matrix), so it runs on every backend
    and inside a loss.

    Example:

    >>> x = np.array([[0.0, 0.0], [3.0, 4.0]])
    >>> keras.ops.convert_to_numpy(pairwise_distances(x, "l2"))
    array([[0., 5.],
           [5., 0.]], dtype=float32)

    Args:
        embeddings: Tensor ``(n, d)``.
        distance: ``"squared_l2"`` (default), ``"l2"`` or ``"cosine"``.

    Returns:
        Float32 tensor ``(n, n)``, symmetric, non-negative, zero diagonal.
    """
    check_distance(distance)
    x = ops.cast(ops.convert_to_tensor(embeddings), "float32")
    if len(x.shape) != 2:
        raise ValueError(
            f"embeddings must be a matrix (n, d). Received: embeddings.shape={tuple(x.shape)}"
        )
    size = ops.shape(x)[0]
    index = ops.arange(size)
    off_diagonal = ops.cast(ops.not_equal(index[:, None], index[None, :]), "float32")
    if distance == "cosine":
        norms = ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=1, keepdims=True), 1e-24))
        unit = x / norms
        cosine = ops.matmul(unit, ops.transpose(unit))
        return ops.maximum(1.0 - cosine, 0.0) * off_diagonal
    squares = ops.sum(ops.square(x), axis=1)
    squared = squares[:, None] - 2.0 * ops.matmul(x, ops.transpose(x)) + squares[None, :]
    squared = ops.maximum(squared, 0.0) * off_diagonal
    if distance == "squared_l2":
        return squared
    zero = ops.less_equal(squared, 0.0)
    # Both branches are finite, so the gradient of the one not taken is 0.
    return ops.where(zero, 0.0, ops.sqrt(ops.where(zero, 1.0, squared)))
