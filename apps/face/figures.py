"""Figures of the face app's report: ROC curves, the distance histograms of
same and different pairs with the threshold, and the worst false accepts and
false rejects (the curriculum's error analysis, applied to verification)."""

import numpy as np

from dlsuite.apps.runtime.figures import save_figure

from dlsuite.apps.runtime.figures import pyplot as plt


def roc_figure(curves, path):
    """``curves``: ``{label: roc(...) dict}``; one ROC curve each, with AUC and EER."""
    figure, axis = plt.subplots(figsize=(4.5, 4.2))
    for label, curve in curves.items():
        axis.plot(curve["fpr"], curve["tpr"],
                  label=f"{label}: AUC {curve['auc']:.4f}, EER {curve['eer']:.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("false accept rate")
    axis.set_ylabel("true accept rate")
    axis.set_title("Verification ROC (identities never seen in training)", fontsize=9)
    axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    save_figure(figure, path)
    return path


def histogram_figure(distances, same, threshold, path, title="test pairs"):
    """Histograms of same- and different-identity pair distances, and the threshold."""
    distances = np.asarray(distances)
    same = np.asarray(same, bool)
    figure, axis = plt.subplots(figsize=(5.5, 3.4))
    bins = np.linspace(0.0, max(float(distances.max()), threshold) * 1.02 + 1e-9, 60)
    axis.hist(distances[same], bins=bins, alpha=0.6, label="same identity", density=True)
    axis.hist(distances[~same], bins=bins, alpha=0.6, label="different identities", density=True)
    axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    axis.set_xlabel("distance")
    axis.set_ylabel("density")
    axis.set_title(f"Pair distances, {title}", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    return path


def _show(axis, image):
    image = np.asarray(image)
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        axis.imshow(image.astype(np.uint8))
    axis.axis("off")


def error_pairs_figure(images, labels, class_names, first, second, distances, accepts, rejects,
                       path):
    """Rows of image pairs: the worst false accepts, then the worst false rejects.

    ``first``, ``second``, ``distances`` describe every pair; ``accepts``
    and ``rejects`` index the pairs to show. Returns None when there is
    no error to show.
    """
    rows = [("false accept", index) for index in accepts] + [
        ("false reject", index) for index in rejects]
    if not rows:
        return None
    columns = 4  # two pairs per row
    lines = (len(rows) + 1) // 2
    figure, axes = plt.subplots(lines, columns, figsize=(1.6 * columns, 1.9 * lines),
                                squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for slot, (kind, pair) in enumerate(rows):
        line, offset = divmod(slot, 2)
        left, right = axes[line, 2 * offset], axes[line, 2 * offset + 1]
        _show(left, images[first[pair]])
        _show(right, images[second[pair]])
        left.set_title(f"{kind}\n{class_names[labels[first[pair]]]}", fontsize=7)
        right.set_title(f"d={distances[pair]:.3f}\n{class_names[labels[second[pair]]]}",
                        fontsize=7)
    figure.tight_layout()
    save_figure(figure, path)
    return path


def dev_curves_figure(rows, path):
    """Per epoch on dev: verification accuracy and ROC AUC, active triplets,
    and the mean same / different pair distances. None without history."""
    rows = [row for row in rows if "val_roc_auc" in row]
    if not rows:
        return None
    epochs = [row["epoch"] + 1 for row in rows]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for name, label in (("val_verification_accuracy", "accuracy (best threshold)"),
                        ("val_roc_auc", "ROC AUC")):
        axes[0].plot(epochs, [row[name] for row in rows], label=label)
    axes[0].set_title("dev verification", fontsize=9)
    axes[1].plot(epochs, [row.get("val_active_triplets") for row in rows])
    axes[1].set_title("dev active triplets (fraction)", fontsize=9)
    for name, label in (("val_positive_distance", "same identity"),
                        ("val_negative_distance", "different identities")):
        axes[2].plot(epochs, [row.get(name) for row in rows], label=label)
    axes[2].set_title("dev mean pair distance", fontsize=9)
    for axis in (axes[0], axes[2]):
        axis.legend(fontsize=8)
    for axis in axes:
        axis.set_xlabel("epoch")
    figure.tight_layout()
    save_figure(figure, path)
    return path
