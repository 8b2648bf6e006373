"""What the image-generating apps (GAN, StyleGAN, VAE) share: their config
fields, their image data and the images the quality evaluator compares with."""

import dataclasses
import typing

from dlsuite.apps.data import load
from dlsuite.apps.runtime.config import BaseConfig, require_positive

DATASETS = ("auto", "digits", "mnist5k", "fashion_mnist", "images")


@dataclasses.dataclass(frozen=True)
class GenerativeConfig(BaseConfig):
    """Fields the image-generating apps (GAN, VAE) share: the image source
    and the classifier-based sample quality measured every epoch."""

    dataset: typing.Literal[DATASETS] = "mnist5k"
    # Square size images are resized to (None = the data set's own).
    image_size: int | None = None
    limit: int | None = None
    batch_size: int = 64
    epochs: int = 20
    noise_seed: int = 0
    # Sample quality every epoch with the reference classifier.
    quality: bool = True
    quality_samples: int = 500
    classifier_epochs: int = 3
    collapse_threshold: float = 0.5

    def validate(self):
        super().validate()
        require_positive(self, "quality_samples", "classifier_epochs")
        if not 0.0 <= self.collapse_threshold <= 1.0:
            raise ValueError("collapse_threshold must be in [0, 1]. "
                             f"Received: collapse_threshold={self.collapse_threshold}")
        if self.image_size is not None and self.image_size < 4:
            raise ValueError(f"image_size must be >= 4. Received: image_size={self.image_size}")
        if self.dataset == "images" and not self.data_dir:
            raise ValueError("dataset=images needs --set data_dir=FOLDER")


def load_image_data(config):
    """The config's image data set (uint8, NHWC)."""
    return load(config.dataset, seed=config.seed, dev_fraction=config.dev_fraction,
                test_fraction=config.test_fraction, data_dir=config.data_dir,
                image_size=config.image_size, limit=config.limit)


def reference_images(data, count):
    """Up to ``count`` real images for the quality evaluator: test, else dev, else train."""
    x = data.x_test if len(data.x_test) else data.x_dev
    return x[:count] if len(x) else data.x_train[:count]
