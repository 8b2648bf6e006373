"""Seeded, stratified subsets and train / dev / test splits.

Every split is made by index from the pooled examples of a data set (its
official train and test parts together), so dev and test come from the same
distribution as each other (and as train). Each class is split in
proportion to its size; the per-class counts are rounded with the largest
remainder method, so the split sizes are exactly ``round(total * fraction)``
and every class of reasonable size appears in every split.
"""

import math

import numpy as np

from dlsuite.apps.errors import UsageError

# Above this many examples the default split is 98/1/1 instead of 80/10/10:
# 1% of a very large set is already plenty to measure dev and test error.
LARGE_DATA_SET = 1_000_000


def default_fractions(total):
    """Return ``(dev_fraction, test_fraction)`` for a set of ``total`` examples."""
    if total > LARGE_DATA_SET:
        return 0.01, 0.01
    return 0.10, 0.10


def round_half_up(value):
    """Round to the nearest int, halves up (Python's ``round`` rounds to even)."""
    return int(math.floor(value + 0.5))


def allocate(class_counts, total):
    """Share ``total`` among classes in proportion to ``class_counts``.

    Largest remainder method: every class gets the floor of its quota, the
    classes with the largest fractional parts (first class first on ties)
    get one more until the shares add up to ``total``. No class gets more
    than it has.

    Args:
        class_counts: 1-D int array, examples per class.
        total: int, ``0 <= total <= class_counts.sum()``.

    Returns:
        1-D int64 array of the same length, summing to ``total``.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    available = int(class_counts.sum())
    if not 0 <= total <= available:
        raise ValueError(f"Cannot take {total} of {available} examples. Received: total={total}")
    if available == 0:
        return np.zeros_like(class_counts)
    quotas = class_counts * (total / available)
    shares = np.minimum(np.floor(quotas).astype(np.int64), class_counts)
    missing = total - int(shares.sum())
    # Stable sort on the negated remainder: largest first, first class on ties.
    order = np.argsort(-(quotas - shares), kind="stable")
    for class_index in order:
        if missing == 0:
            break
        if shares[class_index] < class_counts[class_index]:
            shares[class_index] += 1
            missing -= 1
    return shares


def _indices_by_class(labels, rng):
    """Return a list of shuffled index arrays, one per class (sorted labels)."""
    classes = np.unique(labels)
    return [rng.permutation(np.flatnonzero(labels == value)) for value in classes]


def stratified_subset(labels, count, seed):
    """Indices of a seeded, stratified subset of ``count`` examples.

    Args:
        labels: 1-D array of class labels.
        count: how many to keep; ``count >= len(labels)`` keeps them all.
        seed: int seed of the random choice.

    Returns:
        Sorted 1-D int64 array of indices into ``labels``.
    """
    labels = np.asarray(labels)
    if count >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng(seed)
    per_class = _indices_by_class(labels, rng)
    shares = allocate([len(indices) for indices in per_class], count)
    kept = [indices[:share] for indices, share in zip(per_class, shares)]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def split_indices(labels, dev_fraction, test_fraction, seed):
    """Seeded, stratified train / dev / test split of ``labels``.

    The dev and test sizes are ``round(total * fraction)`` (halves up); the
    rest is train. Within each split the order is shuffled, so classes are
    interleaved.

    Args:
        labels: 1-D array of class labels.
        dev_fraction: fraction of examples for dev, in ``[0, 1)``.
        test_fraction: fraction of examples for test, in ``[0, 1)``.
        seed: int; the same seed gives the same split.

    Returns:
        ``(train_indices, dev_indices, test_indices)``, int64 arrays that
        partition ``range(len(labels))``.

    Raises:
        UsageError: fractions out of range or leaving no training example.
    """
    labels = np.asarray(labels)
    total = len(labels)
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise UsageError(f"{name} must be in [0, 1). Received: {name}={value}")
    test_size = round_half_up(total * test_fraction)
    dev_size = round_half_up(total * dev_fraction)
    if total - test_size - dev_size < 1:
        raise UsageError(
            f"dev_fraction={dev_fraction} and test_fraction={test_fraction} leave no training "
            f"example out of {total}; use smaller fractions or more data."
        )
    rng = np.random.default_rng(seed)
    per_class = _indices_by_class(labels, rng)
    class_counts = np.array([len(indices) for indices in per_class], dtype=np.int64)
    test_shares = allocate(class_counts, test_size)
    dev_shares = allocate(class_counts - test_shares, dev_size)
    train, dev, test = [], [], []
    for indices, test_share, dev_share in zip(per_class, test_shares, dev_shares):
        test.append(indices[:test_share])
        dev.append(indices[test_share : test_share + dev_share])
        train.append(indices[test_share + dev_share :])
    empty = np.zeros(0, dtype=np.int64)
    return tuple(
        rng.permutation(np.concatenate(parts) if parts else empty).astype(np.int64)
        for parts in (train, dev, test)
    )
