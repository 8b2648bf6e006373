"""Keras's random preprocessing layers, built from an image app's config."""

import keras


def augmentation_layers(config, channels, dataset=None):
    """Keras's random preprocessing layers for ``config`` (float32, seeded).

    They act on 0..255 pixels, only when ``training=True``, so the exported
    model and evaluation see the images unchanged.
    """
    if not config.augmenting(dataset):
        return []
    # Dark-background grey images (MNIST family) fill with black; photos
    # reflect their border.
    fill_mode = "constant" if channels == 1 else "reflect"
    found = []
    if config.flip:
        found.append(keras.layers.RandomFlip("horizontal", seed=config.seed,
                                             dtype="float32", name="random_flip"))
    if config.rotation:
        found.append(keras.layers.RandomRotation(config.rotation, fill_mode=fill_mode,
                                                 seed=config.seed + 1, dtype="float32",
                                                 name="random_rotation"))
    if config.zoom:
        found.append(keras.layers.RandomZoom((-config.zoom, config.zoom), fill_mode=fill_mode,
                                             seed=config.seed + 2, dtype="float32",
                                             name="random_zoom"))
    if config.contrast:
        found.append(keras.layers.RandomContrast(config.contrast, value_range=(0, 255),
                                                 seed=config.seed + 3, dtype="float32",
                                                 name="random_contrast"))
    return found
