"""``make_datasets`` for the style app: the images a run works on, as ``DataSplits``.

``mode=optimize``: the training rows are the steps of one epoch (they carry
nothing; the image is the model's variable), and the content and style
images ride along on :class:`StyleData`. ``mode=fast``: seeded random crops
of the training photos, dev crops of held-out photos, and held-out test
photos for the report's grid and held-out costs.
"""

import dataclasses

import numpy as np

from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.style import images


@dataclasses.dataclass
class StyleData(DataSplits):
    """``DataSplits`` plus the run's images (uint8 RGB)."""

    content_image: np.ndarray = None
    style_image: np.ndarray = None
    # mode=fast: (name, photo fitted to image_size) of each held-out photo.
    test_photos: list = dataclasses.field(default_factory=list)

    def record(self):
        found = super().record()
        found["style_image_shape"] = list(self.style_image.shape)
        if self.content_image is not None:
            found["content_image_shape"] = list(self.content_image.shape)
        found["test_photos"] = [name for name, _ in self.test_photos]
        return found


def _empty(width=1):
    return np.zeros((0, width), np.float32), np.zeros((0,), np.int64)


def optimize_data(config):
    content, content_source = images.resolve_content(config.content, config.max_pixels)
    style, style_source = images.resolve_style(config.style, config.max_pixels)
    content = images.fit_longer_side(content, config.image_size)
    style = images.cover(style, *content.shape[:2])
    steps = config.steps_per_epoch if config.limit is None else min(config.limit,
                                                                    config.steps_per_epoch)
    empty_x, empty_y = _empty()
    return StyleData(
        name="style", x_train=np.zeros((steps, 1), np.float32), y_train=np.zeros(steps, np.int64),
        x_dev=empty_x, y_dev=empty_y, x_test=empty_x, y_test=empty_y, class_names=[],
        source=f"content {content_source}, {content.shape[1]}x{content.shape[0]}; "
               f"style {style_source}",
        split={"seed": config.seed, "sizes": {"train": steps, "dev": 0, "test": 0},
               "rows": "one per optimisation step"},
        content_image=content, style_image=style)


def split_photos(count, seed):
    """(train, dev, test) indices of ``count`` photos: a quarter (at least one)
    held out for test and one for dev, seeded; with one or two photos the
    held-out ones are the training ones."""
    order = np.random.default_rng(seed).permutation(count)
    if count == 1:
        return order, order, order
    if count == 2:
        return order[:1], order[1:], order[1:]
    tests = max(1, round(count / 4))
    return order[tests + 1:], order[tests:tests + 1], order[:tests]


def fast_data(config):
    photos, content_source = images.resolve_photos(config.content, config.max_pixels)
    style, style_source = images.resolve_style(config.style, config.max_pixels)
    style = images.cover(style, config.image_size, config.image_size)
    train, dev, test = split_photos(len(photos), config.seed)
    crops = config.crops if config.limit is None else config.limit
    dev_crops = max(1, min(8, crops // 8))
    x_train = images.random_crops([photos[i][1] for i in train], crops, config.crop_size,
                                  config.seed)
    x_dev = images.random_crops([photos[i][1] for i in dev], dev_crops, config.crop_size,
                                config.seed + 1)
    x_test = np.stack([images.cover(photos[i][1], config.image_size, config.image_size)
                       for i in test])
    test_photos = [(photos[i][0], images.fit_longer_side(photos[i][1], config.image_size))
                   for i in test]

    def names(indices):
        return ", ".join(photos[i][0] for i in indices)

    return StyleData(
        name="style", x_train=x_train, y_train=np.zeros(len(x_train), np.int64),
        x_dev=x_dev, y_dev=np.zeros(len(x_dev), np.int64), x_test=x_test,
        y_test=np.zeros(len(x_test), np.int64), class_names=[],
        source=f"content {content_source}: {crops} crops of {config.crop_size}x{config.crop_size} "
               f"from {names(train)} (dev crops from {names(dev)}, held out: {names(test)}); "
               f"style {style_source}",
        split={"seed": config.seed, "sizes": {"train": len(x_train), "dev": len(x_dev),
                                              "test": len(x_test)},
               "photos": {"train": names(train), "dev": names(dev), "test": names(test)}},
        style_image=style, test_photos=test_photos)


def load_style_data(config):
    return optimize_data(config) if config.mode == "optimize" else fast_data(config)
