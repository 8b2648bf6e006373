"""TripletMonitor: how an embedding trained with a triplet loss is doing on
held-out data, each epoch: the share of triplets still active, the mean
distances of same-identity and different-identity pairs, their histograms,
and a collapse check.

No Keras callback or metric measures an embedding by its triplets; the
numbers are those the curriculum reads off a triplet-loss run (are most
triplets already easy? are the two kinds of pairs pulling apart?).
"""

import os

import keras
import numpy as np

from dlsuite.callbacks._subset import labelled_subset
from dlsuite.losses.pairwise_distances import check_distance, pairwise_distances


def triplet_statistics(embeddings, labels, margin=0.2, distance="squared_l2"):
    """Statistics of every triplet and pair of a labelled set of embeddings.

    A triplet ``(a, p, n)`` (``label(p) = label(a)``, ``p != a``,
    ``label(n) != label(a)``) is *active* when ``d(a, p) - d(a, n) +
    margin > 0``, i.e. when the triplet loss still pushes on it. Counted
    without building the ``(n, n, n)`` tensor: per anchor, the negatives'
    distances are sorted and each positive's ``d(a, p) + margin`` is
    searched in them.

    Returns a dict: ``active_triplets`` (fraction of triplets active; 0
    when there is none), ``positive_distance`` and ``negative_distance``
    (means over same- and different-identity pairs), ``max_distance``,
    and the arrays ``positive_distances`` and ``negative_distances`` of
    every pair (each unordered pair once).
    """
    labels = np.asarray(labels).reshape(-1)
    distances = np.asarray(keras.ops.convert_to_numpy(
        pairwise_distances(embeddings, check_distance(distance))), np.float64)
    if distances.shape[0] != len(labels):
        raise ValueError(f"embeddings and labels must have the same length. Received: "
                         f"{distances.shape[0]} embeddings, {len(labels)} labels")
    same = labels[:, None] == labels[None, :]
    upper = np.triu(np.ones_like(same), k=1)
    positive_pairs = distances[same & upper]
    negative_pairs = distances[~same & upper]
    positive_mask = same & ~np.eye(len(labels), dtype=bool)
    active = total = 0
    for anchor in range(len(labels)):
        negatives = np.sort(distances[anchor, ~same[anchor]])
        positives = distances[anchor, positive_mask[anchor]]
        if not len(negatives) or not len(positives):
            continue
        # Negatives closer than d(a, p) + margin keep the triplet active.
        active += int(np.searchsorted(negatives, positives + margin, side="left").sum())
        total += len(negatives) * len(positives)
    return {
        "active_triplets": active / total if total else 0.0,
        "positive_distance": float(positive_pairs.mean()) if len(positive_pairs) else 0.0,
        "negative_distance": float(negative_pairs.mean()) if len(negative_pairs) else 0.0,
        "max_distance": float(distances.max()) if distances.size else 0.0,
        "positive_distances": positive_pairs,
        "negative_distances": negative_pairs,
    }


def collapse_message(max_distance, radius):
    """The warning for embeddings that all fall within ``radius``."""
    return (f"embeddings collapsed: every distance between dev embeddings is below {radius:g} "
            f"(largest {max_distance:.3g}); lower the learning rate or raise the margin")


class TripletMonitor(keras.callbacks.Callback):
    """Triplet statistics of held-out embeddings, each epoch.

    After each epoch the model embeds ``x`` (its output must be the
    embeddings) and :func:`triplet_statistics` is computed with the
    training loss's ``margin`` and ``distance``. The callback adds to the
    epoch's logs (so ``History``, ``CSVLogger`` and ``TensorBoard`` placed
    after it record them)::

        {prefix}active_triplets    fraction of triplets with positive loss
        {prefix}positive_distance  mean distance of same-identity pairs
        {prefix}negative_distance  mean distance of different-identity pairs

    With ``log_dir`` it writes histograms ``positive_distances`` and
    ``negative_distances`` to ``log_dir/validation`` (TensorBoard's
    Histograms and Distributions tabs). When every distance is below
    ``collapse_radius`` the embeddings have collapsed to a point: it
    prints so and records the epoch in ``collapsed_epochs``.

    Example:

    ```python
    model.compile(optimizer="adam", loss=TripletLoss(margin=0.2))
    model.fit(x, y, callbacks=[TripletMonitor(x_dev, y_dev, margin=0.2, log_dir="tb"),
                               keras.callbacks.TensorBoard("tb")])
    ```

    Args:
        x: held-out inputs (numpy, ``(N, ...)``).
        labels: their identity labels ``(N,)``.
        margin: the loss's margin. Defaults to ``0.2``.
        distance: the loss's distance. Defaults to ``"squared_l2"``.
        log_dir: TensorBoard directory for the histograms, or None.
        max_examples: a seeded subset of at most this many examples is
            used (the pairs grow as its square). Defaults to 2000.
        collapse_radius: the collapse threshold. Defaults to ``1e-3``.
        prefix: prefix of the logged names. Defaults to ``"val_"``.
        batch_size: batch size of the predictions.
        seed: seed of the subset.
    """

    def __init__(self, x, labels, margin=0.2, distance="squared_l2", log_dir=None,
                 max_examples=2000, collapse_radius=1e-3, prefix="val_", batch_size=256,
                 seed=0):
        super().__init__()
        if not collapse_radius > 0:
            raise ValueError(f"collapse_radius must be > 0. Received: "
                             f"collapse_radius={collapse_radius}")
        self.x, self.labels = labelled_subset(x, labels, max_examples, seed, minimum=2)
        self.margin = float(margin)
        self.distance = check_distance(distance)
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.collapse_radius = float(collapse_radius)
        self.prefix = prefix
        self.batch_size = batch_size
        self.collapsed_epochs = []
        self.last = None

    def on_epoch_end(self, epoch, logs=None):
        embeddings = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
        stats = triplet_statistics(embeddings, self.labels, self.margin, self.distance)
        self.last = stats
        if logs is not None:
            for name in ("active_triplets", "positive_distance", "negative_distance"):
                logs[self.prefix + name] = stats[name]
        if stats["max_distance"] < self.collapse_radius:
            self.collapsed_epochs.append(epoch)
            print(f"epoch {epoch + 1}: "
                  + collapse_message(stats["max_distance"], self.collapse_radius), flush=True)
        if self.log_dir is not None:
            import tensorflow as tf

            writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
            with writer.as_default():
                for name in ("positive_distances", "negative_distances"):
                    if len(stats[name]):
                        tf.summary.histogram(name, stats[name], step=epoch)
            writer.close()
