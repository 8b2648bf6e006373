"""Figures of the cnn app: a grid of misclassified images, for the report
and for TensorBoard's Images tab, and the dev confusion matrix there too."""

import os
import tempfile

import keras
import numpy as np

from dlsuite.apps.runtime.figures import figure_to_png, pyplot as plt


def misclassified_examples(groups, limit=25):
    """``(index, true name, predicted name)`` of up to ``limit`` mistakes.

    ``groups`` come from :func:`dlsuite.callbacks.error_groups` (biggest confusion
    first); the examples are taken round-robin over the groups so the grid
    shows many different confusions, not only the most common one.
    """
    queues = [[(index, group["true"], group["predicted"]) for index in group["indices"]]
              for group in groups]
    picked = []
    while len(picked) < limit and any(queues):
        for queue in queues:
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return picked


def misclassified_grid(images, examples, columns=5):
    """A matplotlib figure: each misclassified image titled "true -> predicted".

    ``images`` are uint8 ``(N, H, W, C)``; ``examples`` come from
    :func:`misclassified_examples`. Returns ``None`` when there is no mistake.
    """
    if not examples:
        return None
    rows = (len(examples) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows),
                                squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (index, true_name, predicted_name) in zip(axes.flat, examples):
        image = np.asarray(images[index])
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:
            axis.imshow(image.astype("uint8"))
        axis.set_title(f"true: {true_name}\npredicted: {predicted_name}", fontsize=8)
    figure.tight_layout()
    return figure


def predictions_from_groups(y_true, groups, class_names):
    """Rebuild the predicted labels from :func:`dlsuite.callbacks.error_groups`."""
    predicted = np.asarray(y_true).reshape(-1).copy()
    index_of = {name: index for index, name in enumerate(class_names)}
    for group in groups:
        predicted[group["indices"]] = index_of[group["predicted"]]
    return predicted


class MisclassifiedImagesLogger(keras.callbacks.Callback):
    """Log a grid of misclassified dev images and the dev confusion matrix
    to TensorBoard's Images tab every epoch.

    It reuses the predictions of an :class:`dlsuite.callbacks.ErrorAnalysisLogger`
    (``last_groups``), so it must come after that callback in the list and
    costs no extra pass over the dev set.

    Args:
        error_analysis: the run's ``ErrorAnalysisLogger``.
        images: the dev images (uint8), indexed like its labels.
        log_dir: TensorBoard directory; the grid goes to its ``validation``
            run beside the error-analysis table.
        limit: how many images the grid shows.
    """

    def __init__(self, error_analysis, images, log_dir, limit=25):
        super().__init__()
        self.error_analysis = error_analysis
        self.images = images
        self.log_dir = os.fspath(log_dir)
        self.limit = limit

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        from dlsuite.apps.runtime.classification import confusion_figure

        groups = self.error_analysis.last_groups
        if groups is None:
            return
        pictures = {}
        figure = misclassified_grid(self.images, misclassified_examples(groups, self.limit))
        if figure is not None:
            pictures["misclassified_dev_images"] = figure_to_png(figure)
        y_true = self.error_analysis.y_dev
        class_names = self.error_analysis.class_names
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "confusion.png")
            confusion_figure(y_true, predictions_from_groups(y_true, groups, class_names),
                             class_names, path)
            with open(path, "rb") as file:
                pictures["dev_confusion_matrix"] = file.read()
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            for name, png in pictures.items():
                image = tf.image.decode_png(png, channels=4)[tf.newaxis]
                tf.summary.image(name, image, step=epoch)
        writer.close()
