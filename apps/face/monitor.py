"""VerificationMonitor: dev verification accuracy and ROC AUC after each epoch."""

import keras
import numpy as np

from dlsuite.apps.face import verification


class VerificationMonitor(keras.callbacks.Callback):
    """Embed the dev images, score fixed dev pairs, log the verification figures.

    Adds ``val_verification_accuracy`` (at the best threshold for these
    pairs), ``val_roc_auc``, ``val_eer`` and ``val_threshold`` to the
    epoch's logs, so they reach the history, TensorBoard, early stopping
    and the best checkpoint (the app monitors ``val_roc_auc``).

    Args:
        x: dev images.
        labels: their identities.
        distance: the loss's distance.
        pairs: how many pairs (half same, half different).
        seed: seed of the pairs.
        batch_size: batch size of the predictions.
    """

    def __init__(self, x, labels, distance, pairs=6000, seed=0, batch_size=256):
        super().__init__()
        self.x = x
        self.first, self.second, self.same = verification.make_pairs(labels, pairs, seed)
        self.distance = distance
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        embeddings = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
        distances = verification.pair_distances(embeddings[self.first], embeddings[self.second],
                                                self.distance)
        threshold, accuracy = verification.calibrate_threshold(distances, self.same)
        curve = verification.roc(distances, self.same) if np.any(self.same) and np.any(
            ~self.same) else {"auc": 0.0, "eer": 1.0}
        if logs is not None:
            logs.update(val_verification_accuracy=accuracy, val_roc_auc=curve["auc"],
                        val_eer=curve["eer"], val_threshold=threshold)
