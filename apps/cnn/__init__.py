"""``cnn``: LeNet-5, AlexNet, VGG, ResNet and GoogLeNet as one image classifier.

``dlsuite train cnn --set arch=resnet18`` trains any of
:data:`dlsuite.apps.kits.vision.architectures.ARCHITECTURES` on Fashion-MNIST (default), the 5,000
real MNIST digits (``dataset=mnist5k``), scikit-learn's 8x8 digits or the
user's own image folder (``dataset=images data_dir=DIR``, one sub-folder per
class). ``width`` scales every layer's channels so each family trains on a
CPU; the model's input size is the data's (``image_size`` resizes).

The model takes raw pixels (0..255): augmentation (Keras's random
preprocessing layers, active only in training) and rescaling are its first
layers. The export's ``classify`` signature takes uint8 images of any height,
width and 1 or 3 channels, converts channels, resizes inside the graph and
returns class probabilities, the top class and its name.
``dlsuite predict RUN_DIR a.png b.jpg`` prints each file's label.
"""

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.cnn import figures
from dlsuite.apps.data import load
from dlsuite.apps.kits.vision import (ARCHITECTURES, augmentation_layers, build_model,
                                      prepare_images, read_image)
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.runtime.classification import ClassificationApp, compile_classifier
from dlsuite.apps.runtime.config import BaseConfig, require_fraction
from dlsuite.apps.runtime.figures import save_figure
from dlsuite.apps.errors import UsageError
from dlsuite.callbacks import ErrorAnalysisLogger

DATASETS = ("auto", "fashion_mnist", "mnist5k", "digits", "images")
# Horizontal flips turn digits into other symbols; these sets train unflipped
# and, by default, without augmentation.
DIGIT_DATASETS = ("mnist5k", "digits")


@dataclasses.dataclass(frozen=True)
class CNNConfig(BaseConfig):
    """The cnn app's settings; ``--set key=value`` changes any of them."""

    arch: typing.Literal[ARCHITECTURES] = "resnet18"
    # Multiplies every convolution's channels and hidden dense layer's units.
    width: float = 0.25
    # auto: Fashion-MNIST when installed (`make` installs it where it can),
    # else MNIST 5k; the run's record and log say which.
    dataset: typing.Literal[DATASETS] = "auto"
    # Resize images to image_size x image_size (0 keeps the data's size).
    image_size: int = 0
    # Keep a seeded, stratified subset of this many examples (None = all).
    limit: int | None = None
    # "auto": on, except for the digit sets (mnist5k, digits).
    augment: typing.Literal["auto", "on", "off"] = "auto"
    # Each augmentation when augment is on; 0 / false turns one off.
    flip: bool = True  # horizontal flips
    rotation: float = 0.05  # fraction of a full turn, keras.layers.RandomRotation
    zoom: float = 0.1  # keras.layers.RandomZoom factor
    contrast: float = 0.0  # keras.layers.RandomContrast factor
    batch_size: int = 128
    epochs: int = 15

    def validate(self):
        super().validate()
        if not self.width > 0:
            raise ValueError(f"width must be > 0. Received: width={self.width}")
        if self.image_size < 0:
            raise ValueError(f"image_size must be >= 0. Received: image_size={self.image_size}")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"limit must be >= 10. Received: limit={self.limit}")
        if not 0.0 <= self.rotation <= 0.5:
            raise ValueError(f"rotation must be in [0, 0.5]. Received: rotation={self.rotation}")
        require_fraction(self, "zoom", "contrast")
        if self.dataset == "images" and not self.data_dir:
            raise ValueError(
                "dataset=images needs --set data_dir=DIR (one sub-folder of images per class)"
            )

    def augmenting(self, dataset=None):
        """Whether training augments, after resolving ``augment="auto"``
        (``dataset``: the data set ``dataset=auto`` resolved to)."""
        if self.augment == "auto":
            return (dataset or self.dataset) not in DIGIT_DATASETS
        return self.augment == "on"


def build_classifier(config, input_shape, num_classes, dataset=None):
    """The uncompiled model: augmentation -> rescaling -> ``config.arch``."""
    preprocessing = augmentation_layers(config, input_shape[-1], dataset)
    preprocessing.append(keras.layers.Rescaling(1.0 / 255.0, dtype="float32", name="rescale"))
    return build_model(config.arch, input_shape, num_classes, width=config.width,
                       preprocessing=preprocessing)


@register_app("cnn")
class CNNApp(ClassificationApp):
    """LeNet-5 / AlexNet / VGG / ResNet / GoogLeNet image classification."""

    config_class = CNNConfig
    description = ("CNN families (lenet5, alexnet, vgg16/19, resnet18-152, inception) "
                   "on Fashion-MNIST, MNIST, digits or an image folder")

    def load_data(self, config):
        data = load(config.dataset, seed=config.seed, dev_fraction=config.dev_fraction,
                    test_fraction=config.test_fraction, data_dir=config.data_dir,
                    image_size=config.image_size or None, limit=config.limit)
        if not data.is_image:
            raise UsageError(f"the cnn app needs images; {data.name} is not an image data set")
        return data

    def build_model(self, config, data):
        model = build_classifier(config, data.input_shape, data.num_classes, data.name)
        return compile_classifier(model, config, "softmax", data.num_classes)

    def callbacks(self, config, data, run):
        found = super().callbacks(config, data, run)
        error_analysis = next(
            (c for c in found if isinstance(c, ErrorAnalysisLogger)), None
        )
        if error_analysis is not None:
            found.append(figures.MisclassifiedImagesLogger(error_analysis, data.x_dev, run.tb))
        return found

    def error_examples(self, data, groups, run, sections):
        figure = figures.misclassified_grid(
            data.x_dev, figures.misclassified_examples(groups, limit=25)
        )
        if figure is None:
            return
        save_figure(figure, run.path / "misclassified.png")
        sections.append("### Misclassified dev images\n\n"
                        "![misclassified dev images](misclassified.png)\n")

    def export_endpoints(self, model, config, data):
        height, width, channels = data.input_shape
        names = tf.constant(list(data.class_names))

        def classify(images):
            x = prepare_images(images, height, width, channels)
            probabilities = model(x, training=False)
            index = tf.argmax(probabilities, axis=1, output_type=tf.int32)
            return {
                "probabilities": probabilities,
                "class_index": index,
                "class_name": tf.gather(names, index),
                "probability": tf.reduce_max(probabilities, axis=1),
            }

        count = batch_size_for_check(config.batch_size)
        pool = data.x_test if len(data.x_test) >= count else data.x_train
        return [Endpoint(
            name="classify",
            fn=classify,
            input_signature=[tf.TensorSpec(None, tf.uint8, name="images")],
            example=[np.asarray(pool[:count], dtype=np.uint8)],
        )]

    def predict_files(self, loaded, paths):
        lines = []
        for path in paths:
            image = read_image(path)
            outputs = loaded.classify(tf.constant(image[np.newaxis]))
            name = outputs["class_name"].numpy()[0].decode()
            probability = float(outputs["probability"].numpy()[0])
            lines.append(f"{path}: {name} (p={probability:.3f})")
        return lines
