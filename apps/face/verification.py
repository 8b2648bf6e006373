"""One-shot verification and identification from embeddings (numpy).

Verification (is this the same person?): a pair is "same" when the distance
of its embeddings is at most a threshold. The threshold is calibrated on dev
pairs of identities never seen in training (the one maximising accuracy) and
applied unchanged to test pairs; the ROC curve, its area and the equal-error
rate describe every threshold at once.

Identification (who is it?): a gallery holds one image per identity (one
shot); a query takes the name of the nearest gallery embedding, or "unknown"
when even that one is farther than the threshold (the curriculum's
``who_is_it``). N-way accuracy is measured over several random galleries.
"""

import numpy as np
import sklearn.metrics

UNKNOWN = "unknown"


def pair_distances(first, second, distance="squared_l2"):
    """Distance of each row of ``first`` to the same row of ``second``."""
    first = np.asarray(first, np.float64)
    second = np.asarray(second, np.float64)
    if distance == "cosine":
        norms = np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
        return 1.0 - np.sum(first * second, axis=1) / np.maximum(norms, 1e-12)
    squared = np.sum((first - second) ** 2, axis=1)
    return np.sqrt(squared) if distance == "l2" else squared


def cross_distances(queries, gallery, distance="squared_l2"):
    """``(len(queries), len(gallery))`` distances."""
    queries = np.asarray(queries, np.float64)
    gallery = np.asarray(gallery, np.float64)
    if distance == "cosine":
        queries = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
        gallery = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-12)
        return 1.0 - queries @ gallery.T
    squared = ((queries ** 2).sum(1)[:, None] - 2 * queries @ gallery.T
               + (gallery ** 2).sum(1)[None, :])
    squared = np.maximum(squared, 0.0)
    return np.sqrt(squared) if distance == "l2" else squared


def make_pairs(labels, count, seed):
    """``count`` pairs of distinct examples, half same-identity, half not.

    Returns ``(first, second, same)``: index arrays and a bool array. Pairs
    are drawn at random without repeating an unordered pair where the set
    has enough (all same-identity pairs are taken when there are fewer).
    """
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    first, second = np.triu_indices(len(labels), k=1)
    same = labels[first] == labels[second]
    chosen = []
    for kind in (True, False):
        candidates = np.flatnonzero(same == kind)
        take = min(count // 2, len(candidates))
        chosen.append(rng.choice(candidates, take, replace=False))
    chosen = rng.permutation(np.concatenate(chosen))
    return first[chosen], second[chosen], same[chosen]


def calibrate_threshold(distances, same):
    """The threshold of best accuracy, "same" meaning ``distance <= threshold``.

    Every split of the sorted distances is tried; the threshold is the
    midpoint between the two distances around the best split. Returns
    ``(threshold, accuracy)``.
    """
    distances = np.asarray(distances, np.float64)
    same = np.asarray(same, bool)
    order = np.argsort(distances, kind="stable")
    sorted_distances, sorted_same = distances[order], same[order]
    total = len(distances)
    # Predict "same" for the first k pairs, k = 0..total.
    true_accepts = np.concatenate([[0], np.cumsum(sorted_same)])
    false_accepts = np.concatenate([[0], np.cumsum(~sorted_same)])
    accuracy = (true_accepts + (np.sum(~same) - false_accepts)) / total
    # A split between two equal distances is no threshold.
    splittable = np.ones(total + 1, bool)
    splittable[1:-1] = sorted_distances[1:] > sorted_distances[:-1]
    accuracy = np.where(splittable, accuracy, -1.0)
    best = int(np.argmax(accuracy))
    if best == 0:
        threshold = sorted_distances[0] - 1e-6
    elif best == total:
        threshold = sorted_distances[-1] + 1e-6
    else:
        threshold = (sorted_distances[best - 1] + sorted_distances[best]) / 2
    return float(threshold), float(accuracy[best])


def roc(distances, same):
    """ROC curve of "same" scored by ``-distance``: ``fpr``, ``tpr``, ``auc``,
    the equal-error rate ``eer`` (where false accepts = false rejects,
    linearly interpolated) and its threshold."""
    same = np.asarray(same, bool)
    distances = np.asarray(distances, np.float64)
    fpr, tpr, thresholds = sklearn.metrics.roc_curve(same, -distances)
    fnr = 1.0 - tpr
    gap = fpr - fnr
    crossing = int(np.flatnonzero(gap >= 0)[0])
    if crossing == 0:
        eer, eer_threshold = fpr[0], -thresholds[0]
    else:
        before, after = gap[crossing - 1], gap[crossing]
        weight = before / (before - after) if after != before else 0.0
        eer = fpr[crossing - 1] + weight * (fpr[crossing] - fpr[crossing - 1])
        finite = np.isfinite(thresholds[crossing - 1])
        eer_threshold = -(thresholds[crossing - 1] + weight * (
            thresholds[crossing] - thresholds[crossing - 1])) if finite else -thresholds[crossing]
    return {"fpr": fpr, "tpr": tpr, "auc": float(sklearn.metrics.roc_auc_score(same, -distances)),
            "eer": float(eer), "eer_threshold": float(eer_threshold)}


def verification(distances, same, threshold):
    """Accuracy and error rates of ``distance <= threshold`` on labelled pairs."""
    same = np.asarray(same, bool)
    accepted = np.asarray(distances) <= threshold
    curve = roc(distances, same)
    return {
        "pairs": int(len(same)),
        "accuracy": float(np.mean(accepted == same)),
        "false_accept_rate": float(np.mean(accepted[~same])) if np.any(~same) else 0.0,
        "false_reject_rate": float(np.mean(~accepted[same])) if np.any(same) else 0.0,
        "roc_auc": curve["auc"],
        "eer": curve["eer"],
        "threshold": float(threshold),
    }


def who_is_it(query_embeddings, gallery_embeddings, gallery_names, threshold,
              distance="squared_l2"):
    """Each query's name: the nearest gallery entry's, or :data:`UNKNOWN`
    when it is farther than ``threshold``. Returns ``(names, distances,
    indices)``."""
    distances = cross_distances(query_embeddings, gallery_embeddings, distance)
    nearest = distances.argmin(axis=1)
    best = distances[np.arange(len(distances)), nearest]
    names = np.where(best <= threshold, np.asarray(gallery_names, object)[nearest], UNKNOWN)
    return names, best, nearest


def one_shot_gallery(labels, rng):
    """One random example index per identity (sorted by identity)."""
    labels = np.asarray(labels)
    return np.array([rng.choice(np.flatnonzero(labels == identity))
                     for identity in np.unique(labels)])


def identification(embeddings, labels, threshold, distance="squared_l2", trials=10, seed=0):
    """One-shot N-way identification over ``trials`` random galleries.

    Each trial draws a gallery of one example per identity; every other
    example is a query. Returns the mean over trials of:

    * ``accuracy``: nearest gallery identity is the right one (closed set);
    * ``open_set_accuracy``: ``who_is_it`` names the right identity (nearest
      and within the threshold);
    * ``unknown_rejection``: with the query's own identity removed from the
      gallery, ``who_is_it`` answers "unknown" (a stranger is not let in).
    """
    labels = np.asarray(labels).reshape(-1)
    identities = np.unique(labels)
    rng = np.random.default_rng(seed)
    closed, opened, rejected = [], [], []
    for _ in range(trials):
        gallery = one_shot_gallery(labels, rng)
        queries = np.setdiff1d(np.arange(len(labels)), gallery)
        distances = cross_distances(embeddings[queries], embeddings[gallery], distance)
        truth = np.searchsorted(identities, labels[queries])
        nearest = distances.argmin(axis=1)
        best = distances[np.arange(len(queries)), nearest]
        closed.append(np.mean(nearest == truth))
        opened.append(np.mean((nearest == truth) & (best <= threshold)))
        others = distances.copy()
        others[np.arange(len(queries)), truth] = np.inf
        rejected.append(np.mean(others.min(axis=1) > threshold))
    return {"n_way": int(len(identities)), "trials": trials, "queries": int(len(labels) - len(identities)),
            "accuracy": float(np.mean(closed)), "open_set_accuracy": float(np.mean(opened)),
            "unknown_rejection": float(np.mean(rejected))}


def worst_errors(distances, same, threshold, count=8):
    """Indices of the worst false accepts (different pairs, smallest
    distances at or under the threshold) and the worst false rejects (same
    pairs, largest distances above it), worst first."""
    distances = np.asarray(distances)
    same = np.asarray(same, bool)
    accepts = np.flatnonzero(~same & (distances <= threshold))
    rejects = np.flatnonzero(same & (distances > threshold))
    return (accepts[np.argsort(distances[accepts], kind="stable")][:count],
            rejects[np.argsort(-distances[rejects], kind="stable")][:count])
