"""The dataset contract every loader returns."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class DataSplits:
    """A data set split into train / dev / test, all numpy, all in memory.

    Images are ``uint8`` of shape ``(N, H, W, C)``; tabular features are
    ``float32`` of shape ``(N, D)``; labels are ``int64`` class indices of
    shape ``(N,)``. ``source`` says where the data came from (printed and
    recorded in the run); ``split`` records the seed, fractions and sizes.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_dev: np.ndarray
    y_dev: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str
    split: dict

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def is_image(self):
        return self.x_train.ndim == 4

    @property
    def train(self):
        """``(x_train, y_train)``."""
        return self.x_train, self.y_train

    @property
    def dev(self):
        """``(x_dev, y_dev)``."""
        return self.x_dev, self.y_dev

    @property
    def test(self):
        """``(x_test, y_test)``."""
        return self.x_test, self.y_test

    def record(self):
        """What the run directory stores about the data."""
        return {
            "name": self.name,
            "source": self.source,
            "split": self.split,
            "input_shape": list(self.input_shape),
            "class_names": list(self.class_names),
        }
