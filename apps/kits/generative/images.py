"""Image grids for TensorBoard and the report, shared by the GAN and VAE apps."""

import pathlib

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime.figures import pyplot as plt


def image_grid(images, columns):
    """uint8 ``(N, H, W, C)`` -> one uint8 ``(rows * H, columns * W, C)`` image."""
    images = np.asarray(images)
    count, height, width, channels = images.shape
    rows = -(-count // columns)
    grid = np.zeros((rows * height, columns * width, channels), images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
    return grid


def save_png(grid, path, scale=4):
    """Write a uint8 grid as a PNG (grey for one channel), ``scale`` x larger."""
    grid = np.repeat(np.repeat(np.asarray(grid), scale, axis=0), scale, axis=1)
    if grid.shape[-1] == 1:
        plt.imsave(path, grid[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        plt.imsave(path, grid)
    return path


class ImageGridLogger(keras.callbacks.Callback):
    """Log a grid made by ``make_grid(model)`` to TensorBoard every epoch.

    ``make_grid`` returns a uint8 ``(H, W, C)`` image. The grid goes to
    ``<tb_dir>/images`` under ``name``; the last one is kept in ``self.grid``
    and written to ``png_path`` at the end of training.
    """

    def __init__(self, name, make_grid, tb_dir, png_path=None):
        super().__init__()
        self.name = name
        self.make_grid = make_grid
        self.tb_dir = pathlib.Path(tb_dir) / "images"
        self.png_path = png_path
        self.grid = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        self.grid = np.asarray(self.make_grid(self.model))
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.tb_dir))
        with self._writer.as_default():
            tf.summary.image(self.name, self.grid[None], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self.png_path is not None and self.grid is not None:
            save_png(self.grid, self.png_path)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
