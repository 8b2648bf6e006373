"""apps.face.verification (threshold, ROC, EER, identification) and the
identity split of apps.data.identities."""

import numpy as np
import pytest
import sklearn.metrics

from dlsuite.apps.data.identities import load_identities, split_by_identity, transformed_identities
from dlsuite.apps.face import verification
from dlsuite.apps.errors import UsageError


def test_pairs_are_balanced_distinct_and_labelled():
    labels = np.repeat(np.arange(5), 20)
    first, second, same = verification.make_pairs(labels, 400, seed=0)
    assert len(same) == 400 and same.sum() == 200
    np.testing.assert_array_equal(same, labels[first] == labels[second])
    assert np.all(first < second)
    assert len(set(zip(first, second))) == 400
    # Fewer same pairs exist than asked for: all of them are taken.
    few = np.array([0, 0, 1, 2, 3])
    _, _, same = verification.make_pairs(few, 8, seed=0)
    assert same.sum() == 1 and (~same).sum() == 4


def test_calibrated_threshold_maximises_accuracy_by_brute_force():
    rng = np.random.default_rng(1)
    same = rng.random(300) < 0.5
    distances = np.where(same, rng.normal(1.0, 0.4, 300), rng.normal(2.0, 0.4, 300))
    threshold, accuracy = verification.calibrate_threshold(distances, same)
    candidates = np.concatenate([[-1.0], np.sort(distances)])
    best = max(np.mean((distances <= t) == same) for t in candidates)
    assert accuracy == pytest.approx(best)
    assert np.mean((distances <= threshold) == same) == pytest.approx(accuracy)
    # Separable pairs: a threshold between the two groups, accuracy 1.
    threshold, accuracy = verification.calibrate_threshold([0.1, 0.2, 0.9, 1.0],
                                                           [True, True, False, False])
    assert accuracy == 1.0 and threshold == pytest.approx(0.55)


def test_roc_auc_and_equal_error_rate():
    rng = np.random.default_rng(2)
    same = rng.random(2000) < 0.5
    distances = np.where(same, rng.normal(1.0, 0.5, 2000), rng.normal(2.0, 0.5, 2000))
    curve = verification.roc(distances, same)
    assert curve["auc"] == pytest.approx(sklearn.metrics.roc_auc_score(same, -distances))
    # At the EER threshold false accepts and false rejects are (nearly) equal.
    at = curve["eer_threshold"]
    false_accept = np.mean(distances[~same] <= at)
    false_reject = np.mean(distances[same] > at)
    assert abs(false_accept - false_reject) < 0.01
    assert curve["eer"] == pytest.approx((false_accept + false_reject) / 2, abs=0.01)
    # Two normals one unit apart with sigma 0.5: EER = Phi(-1) = 0.159.
    assert curve["eer"] == pytest.approx(0.159, abs=0.02)
    perfect = verification.roc([0.1, 0.2, 0.8, 0.9], [True, True, False, False])
    assert perfect["auc"] == 1.0 and perfect["eer"] == 0.0


def test_verification_rates():
    result = verification.verification([0.1, 0.6, 0.4, 0.9], [True, True, False, False], 0.5)
    assert result["accuracy"] == 0.5
    assert result["false_accept_rate"] == 0.5 and result["false_reject_rate"] == 0.5


def test_distances_agree_with_each_other():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    for distance in ("squared_l2", "l2", "cosine"):
        cross = verification.cross_distances(a, b, distance)
        pairs = verification.pair_distances(a[[0, 4]], b[[2, 5]], distance)
        np.testing.assert_allclose(pairs, [cross[0, 2], cross[4, 5]], atol=1e-9)


def test_identification_and_who_is_it_on_clean_clusters():
    centres = np.eye(4) * 10
    labels = np.repeat(np.arange(4), 5)
    rng = np.random.default_rng(4)
    embeddings = centres[labels] + rng.normal(scale=0.1, size=(20, 4))
    result = verification.identification(embeddings, labels, threshold=1.0, trials=3)
    assert result["n_way"] == 4 and result["queries"] == 16
    assert result["accuracy"] == 1.0 and result["open_set_accuracy"] == 1.0
    assert result["unknown_rejection"] == 1.0
    # A threshold too small to accept anyone: right names, never "who".
    tight = verification.identification(embeddings, labels, threshold=1e-6, trials=2)
    assert tight["accuracy"] == 1.0 and tight["open_set_accuracy"] == 0.0
    names, distances, nearest = verification.who_is_it(
        embeddings[[0, 5]], centres, ["a", "b", "c", "d"], threshold=1.0)
    assert list(names) == ["a", "b"] and list(nearest) == [0, 1]
    names, _, _ = verification.who_is_it(np.full((1, 4), 50.0), centres, list("abcd"), 1.0)
    assert list(names) == [verification.UNKNOWN]


def test_worst_errors_are_ordered():
    distances = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.6])
    same = np.array([False, False, True, True, True, False])
    accepts, rejects = verification.worst_errors(distances, same, threshold=0.5)
    assert list(accepts) == [0, 1] and list(rejects) == [3, 4]


def test_split_holds_out_whole_identities_by_seed():
    labels = np.repeat(np.arange(10), [30, 30, 30, 30, 30, 30, 30, 30, 30, 1])
    train, dev, test, unseen, single = split_by_identity(labels, 0.4, seed=5)
    assert single == 1 and len(unseen) == 4 and 9 not in unseen
    assert set(labels[dev]) == set(labels[test]) == set(unseen)
    assert not set(labels[train]) & set(unseen)
    assert len(train) + len(dev) + len(test) == len(labels) - 1
    assert abs(len(dev) - len(test)) <= len(unseen)
    again = split_by_identity(labels, 0.4, seed=5)
    np.testing.assert_array_equal(again[3], unseen)
    with pytest.raises(UsageError, match="at least 4 identities"):
        split_by_identity(np.repeat(np.arange(3), 5), 0.4, seed=0)


def test_digits_split_records_the_unseen_identities():
    data = load_identities("digits", seed=3, limit=300)
    assert data.split["by"] == "identity" and data.split["unseen_identity_count"] == 4
    assert sorted(str(i) for i in set(data.y_dev)) == sorted(data.split["unseen_identities"])
    assert data.split["train_identities"] == 6
    with pytest.raises(UsageError, match="unseen_fraction"):
        load_identities("digits", unseen_fraction=1.0)


def test_turned_and_mirrored_identities_merge_look_alikes():
    ell = np.zeros((2, 5, 5, 1), np.uint8)
    ell[:, :, 0] = ell[:, 4, :] = 255  # an L: 4 turns; mirrored, it is one of them
    plus = np.zeros((2, 5, 5, 1), np.uint8)
    plus[:, 2, :] = plus[:, :, 2] = 255  # a plus: every form is itself
    x = np.concatenate([ell, plus])
    y = np.array([0, 0, 1, 1])
    images, labels, names, merged = transformed_identities(x, y, ["L", "+"], "rotations_flips")
    assert len(images) == 8 * 4 and merged == 7 + 4  # every plus form, every mirrored L
    assert len(np.unique(labels)) == 4 + 1
    assert names[:2] == ["L", "+"] and "L rot90" in names
    assert len(np.unique(labels[labels == 1])) == 1 and (labels == 1).sum() == 16
    # Each L form is a turn or mirror of the original.
    first = images[np.flatnonzero(labels == names.index("L rot90"))[0]]
    np.testing.assert_array_equal(first, np.rot90(ell[0], 1))
    images, labels, names, merged = transformed_identities(x, y, ["L", "+"], "rotations")
    assert len(np.unique(labels)) == 1 + 4 and merged == 3
    with pytest.raises(UsageError, match="square images"):
        transformed_identities(np.zeros((2, 4, 5, 1)), np.array([0, 1]), ["a", "b"], "rotations")
