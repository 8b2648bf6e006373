"""EmbeddingProjector: held-out embeddings in TensorBoard's Projector tab.

Keras's ``TensorBoard(embeddings_freq=...)`` projects the weights of
``Embedding`` layers only; a metric-learning model's *outputs* for real
examples, with their labels and thumbnails, need the projector's own files.
This callback writes them after each epoch, so the tab shows the latest
embeddings (PCA, t-SNE, UMAP) even after a crash.
"""

import os

import keras
import numpy as np

from dlsuite.callbacks._subset import labelled_subset

# The projector reads a sprite of at most 8192 x 8192 pixels.
MAX_SPRITE_SIDE = 8192


def sprite_image(images):
    """uint8 ``(N, H, W, C)`` -> one square grid ``(S, S, C)`` of thumbnails,
    row by row (the projector's sprite layout), with grey images as RGB."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be uint8 (N, H, W, 1 or 3). Received: "
                         f"dtype={images.dtype}, shape={images.shape}")
    count, height, width, _ = images.shape
    side = int(np.ceil(np.sqrt(count)))
    if side * max(height, width) > MAX_SPRITE_SIDE:
        raise ValueError(f"{count} thumbnails of {height}x{width} exceed the projector's "
                         f"{MAX_SPRITE_SIDE}-pixel sprite; pass fewer examples")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    grid = np.zeros((side * height, side * width, 3), np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, side)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
    return grid


def write_projector(log_dir, embeddings, labels, images=None, name="embeddings"):
    """Write ``embeddings`` (N, d) with ``labels`` (N strings) and optional
    uint8 ``images`` (the sprite) as a projector run in ``log_dir``.

    Files: ``projector_config.pbtxt`` in ``log_dir`` (the projector reads
    it from the log directory itself) and ``log_dir/projector/`` holding
    ``vectors.tsv``, ``metadata.tsv`` and ``sprite.png``.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    embeddings = np.asarray(embeddings, np.float32)
    if embeddings.ndim != 2 or len(embeddings) != len(labels):
        raise ValueError(f"embeddings must be (N, d) with one label each. Received: "
                         f"embeddings.shape={embeddings.shape}, {len(labels)} labels")
    folder = os.path.join(log_dir, "projector")
    os.makedirs(folder, exist_ok=True)
    np.savetxt(os.path.join(folder, "vectors.tsv"), embeddings, delimiter="\t", fmt="%.6g")
    with open(os.path.join(folder, "metadata.tsv"), "w") as handle:
        for label in labels:
            # One column: no header row. Tabs and newlines would split it.
            handle.write(str(label).replace("\t", " ").replace("\n", " ") + "\n")
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = name
    embedding.tensor_path = "projector/vectors.tsv"
    embedding.metadata_path = "projector/metadata.tsv"
    if images is not None:
        grid = sprite_image(images)
        tf.io.write_file(os.path.join(folder, "sprite.png"), tf.io.encode_png(grid))
        embedding.sprite.image_path = "projector/sprite.png"
        embedding.sprite.single_image_dim.extend([images.shape[2], images.shape[1]])
    projector.visualize_embeddings(log_dir, config)
    return os.path.join(log_dir, "projector_config.pbtxt")


class EmbeddingProjector(keras.callbacks.Callback):
    """Write held-out embeddings for TensorBoard's Projector after each epoch.

    The model's output must be the embeddings. ``x`` is embedded with
    ``model.predict``; each point is labelled with its class name and, when
    ``x`` holds uint8 images, shown as its thumbnail (the sprite).

    Example:

    ```python
    model.fit(x, y, callbacks=[EmbeddingProjector(x_dev, y_dev, "tb", class_names)])
    # tensorboard --logdir tb  ->  Projector tab
    ```

    Args:
        x: held-out inputs (numpy).
        labels: integer labels ``(N,)`` (or strings).
        log_dir: the TensorBoard log directory.
        class_names: a name per integer label, or None to show the labels.
        max_examples: a seeded subset of at most this many. Defaults to 1000.
        batch_size: batch size of the predictions.
        seed: seed of the subset.
    """

    def __init__(self, x, labels, log_dir, class_names=None, max_examples=1000, batch_size=256,
                 seed=0):
        super().__init__()
        self.x, labels = labelled_subset(x, labels, max_examples, seed)
        self.names = [class_names[int(label)] if class_names is not None else str(label)
                      for label in labels]
        self.log_dir = os.fspath(log_dir)
        self.batch_size = batch_size
        is_image = (isinstance(self.x, np.ndarray) and self.x.dtype == np.uint8
                    and self.x.ndim == 4 and self.x.shape[-1] in (1, 3))
        self.images = self.x if is_image else None

    def on_epoch_end(self, epoch, logs=None):
        embeddings = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
        write_projector(self.log_dir, embeddings, self.names, self.images)
