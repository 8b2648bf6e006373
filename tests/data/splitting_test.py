"""Seeded, stratified subsets and splits (apps/data/splitting.py)."""

import numpy as np
import pytest

from dlsuite.apps.data import splitting
from dlsuite.apps.errors import UsageError


def _labels(counts):
    return np.concatenate([np.full(count, label) for label, count in enumerate(counts)])


def test_allocate_sums_exactly_and_is_proportional():
    shares = splitting.allocate([50, 30, 20], 11)
    assert shares.sum() == 11
    np.testing.assert_array_equal(shares, [6, 3, 2])  # quotas 5.5, 3.3, 2.2


def test_allocate_never_exceeds_a_class():
    shares = splitting.allocate([1, 1, 98], 99)
    assert shares.sum() == 99
    assert (shares <= [1, 1, 98]).all()


def test_allocate_rejects_more_than_available():
    with pytest.raises(ValueError, match="Received: total=11"):
        splitting.allocate([5, 5], 11)


def test_default_fractions_switch_above_a_million():
    assert splitting.default_fractions(1_000_000) == (0.10, 0.10)
    assert splitting.default_fractions(1_000_001) == (0.01, 0.01)


def test_split_is_a_partition_with_exact_sizes():
    labels = _labels([37, 41, 22])
    train, dev, test = splitting.split_indices(labels, 0.15, 0.25, seed=3)
    assert (len(dev), len(test)) == (15, 25)  # round(100 * fraction)
    assert len(train) == 60
    np.testing.assert_array_equal(np.sort(np.concatenate([train, dev, test])), np.arange(100))


def test_split_is_stratified():
    labels = _labels([300, 200, 100])
    train, dev, test = splitting.split_indices(labels, 0.1, 0.1, seed=0)
    for part in (dev, test):
        np.testing.assert_array_equal(np.bincount(labels[part]), [30, 20, 10])
    np.testing.assert_array_equal(np.bincount(labels[train]), [240, 160, 80])


def test_split_shuffles_within_each_part():
    labels = _labels([50, 50])
    train, _, _ = splitting.split_indices(labels, 0.1, 0.1, seed=0)
    assert not (np.diff(labels[train]) >= 0).all()  # not sorted by class


def test_split_seed_reproducible_and_sensitive():
    labels = _labels([40, 60])
    first = splitting.split_indices(labels, 0.2, 0.2, seed=7)
    again = splitting.split_indices(labels, 0.2, 0.2, seed=7)
    other = splitting.split_indices(labels, 0.2, 0.2, seed=8)
    for part, part_again in zip(first, again):
        np.testing.assert_array_equal(part, part_again)
    assert any(set(a) != set(b) for a, b in zip(first, other))


def test_zero_fractions_give_empty_dev_and_test():
    train, dev, test = splitting.split_indices(_labels([5, 5]), 0.0, 0.0, seed=0)
    assert (len(train), len(dev), len(test)) == (10, 0, 0)
    assert dev.dtype == np.int64


def test_split_leaving_no_training_example_is_an_error():
    with pytest.raises(UsageError, match="no training example"):
        splitting.split_indices(_labels([1, 1]), 0.5, 0.4, seed=0)


def test_split_rejects_out_of_range_fraction():
    with pytest.raises(UsageError, match="dev_fraction"):
        splitting.split_indices(_labels([5, 5]), 1.5, 0.1, seed=0)


def test_stratified_subset():
    labels = _labels([600, 300, 100])
    kept = splitting.stratified_subset(labels, 100, seed=1)
    assert len(np.unique(kept)) == 100
    np.testing.assert_array_equal(np.bincount(labels[kept]), [60, 30, 10])
    np.testing.assert_array_equal(kept, splitting.stratified_subset(labels, 100, seed=1))
    assert set(kept) != set(splitting.stratified_subset(labels, 100, seed=2))
    everything = splitting.stratified_subset(labels, 5000, seed=1)
    np.testing.assert_array_equal(everything, np.arange(1000))
