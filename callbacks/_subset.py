"""A seeded subset of labelled held-out examples, for callbacks that embed them."""

import numpy as np


def labelled_subset(x, labels, max_examples, seed, minimum=1):
    """``(x, labels)`` cut to at most ``max_examples`` (seeded, order kept).

    Raises ``ValueError`` when the lengths differ or ``max_examples`` is
    below ``minimum``.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(x) != len(labels):
        raise ValueError(f"x and labels must have the same length. Received: "
                         f"len(x)={len(x)}, len(labels)={len(labels)}")
    if max_examples < minimum:
        raise ValueError(f"max_examples must be >= {minimum}. Received: "
                         f"max_examples={max_examples}")
    keep = np.arange(len(labels))
    if len(keep) > max_examples:
        keep = np.sort(np.random.default_rng(seed).choice(len(keep), max_examples,
                                                          replace=False))
    return x[keep], labels[keep]
