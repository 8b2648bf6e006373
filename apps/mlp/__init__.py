"""``mlp``: a feedforward classifier for tabular or flattened-image data.

The curriculum's first model: hidden layers of a chosen width and activation
(sigmoid, tanh, relu), a softmax or sigmoid output, cross-entropy or MSE
loss, any of the curriculum's optimizers (batch / stochastic / mini-batch
gradient descent, momentum, Adagrad, RMSprop, Adam), and the
regularizers: L2 weight decay, dropout, batch norm and early stopping.
Inputs are normalised inside the model, so the export takes raw feature
vectors (pixels 0..255 for image data sets) and returns class probabilities.
"""

import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.data import load
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.runtime.classification import ClassificationApp, compile_classifier, output_units
from dlsuite.apps.runtime.config import BaseConfig, require_fraction
from dlsuite.apps.errors import UsageError

DATASETS = ("breast_cancer", "digits", "mnist5k", "fashion_mnist", "csv")


@dataclasses.dataclass(frozen=True)
class MLPConfig(BaseConfig):
    dataset: typing.Literal[DATASETS] = "breast_cancer"
    hidden_units: tuple[int, ...] = (64, 32)
    activation: typing.Literal["relu", "tanh", "sigmoid"] = "relu"
    # "auto": sigmoid for two classes, softmax otherwise.
    output: typing.Literal["auto", "softmax", "sigmoid"] = "auto"
    loss: typing.Literal["crossentropy", "mse"] = "crossentropy"
    l2: float = 1e-4
    dropout: float = 0.1
    batch_norm: bool = False
    epochs: int = 60
    patience: int = 10
    # Measured by `make bench` (benchmarks/mlp_bench.py): 16 steps per
    # execution make an epoch 1.9x faster on 2 CPU cores; XLA makes it slower.
    steps_per_execution: int = 16
    # Keep a seeded subset of this many examples (None = all).
    limit: int | None = None

    def validate(self):
        super().validate()
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units must be positive widths. Received: "
                             f"hidden_units={self.hidden_units}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0. Received: l2={self.l2}")
        require_fraction(self, "dropout")
        if self.dataset == "csv" and not self.data_dir:
            raise ValueError("dataset=csv needs --set data_dir=PATH.csv")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"limit must be >= 10. Received: limit={self.limit}")


def build_mlp(input_dim, num_classes, config, feature_mean=None, feature_variance=None,
              pixel_scale=None):
    """The Functional MLP. Inputs are raw features; the first layer normalises
    them (per-feature standardisation, or ``pixel_scale`` for pixels)."""
    inputs = keras.Input((input_dim,), name="features")
    if pixel_scale is not None:
        x = keras.layers.Rescaling(pixel_scale, name="scale")(inputs)
    else:
        x = keras.layers.Normalization(mean=feature_mean, variance=feature_variance,
                                       name="standardize")(inputs)
    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    for index, units in enumerate(config.hidden_units):
        x = keras.layers.Dense(units, use_bias=not config.batch_norm,
                               kernel_regularizer=regularizer, name=f"dense_{index}")(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation(config.activation, name=f"{config.activation}_{index}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(x)
    output = resolve_output(config, num_classes)
    units = output_units(output, num_classes)
    outputs = keras.layers.Dense(units, activation=output, dtype="float32",
                                 kernel_regularizer=regularizer, name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mlp")


def resolve_output(config, num_classes):
    if config.output != "auto":
        return config.output
    return "sigmoid" if num_classes == 2 else "softmax"


def flatten(x):
    return np.asarray(x, dtype="float32").reshape(len(x), -1)


@register_app("mlp")
class MLPApp(ClassificationApp):
    """Feedforward classifier with the ML-strategy report."""

    config_class = MLPConfig
    description = "feedforward classifier (breast cancer / digits) with the ML-strategy report"

    def output(self, config):
        return resolve_output(config, self._classes)

    def load_data(self, config):
        name = "csv" if config.dataset == "csv" else config.dataset
        data = load(name, seed=config.seed, dev_fraction=config.dev_fraction,
                    test_fraction=config.test_fraction, data_dir=config.data_dir,
                    limit=config.limit)
        self._is_image = data.is_image
        for split in ("x_train", "x_dev", "x_test"):
            setattr(data, split, flatten(getattr(data, split)))
        return data

    def build_model(self, config, data):
        stats = {}
        if self._is_image:
            stats["pixel_scale"] = 1.0 / 255.0
        else:
            stats["feature_mean"] = data.x_train.mean(axis=0)
            stats["feature_variance"] = np.maximum(data.x_train.var(axis=0), 1e-6)
        model = build_mlp(data.x_train.shape[1], data.num_classes, config, **stats)
        return compile_classifier(model, config, self.output(config), data.num_classes)

    def export_endpoints(self, model, config, data):
        names = tf.constant(list(data.class_names))
        binary = output_units(self.output(config), data.num_classes) == 1

        def classify(features):
            features = signature_inputs.float_batch(
                features, signature="classify", name="features",
                inner_shape=(data.x_train.shape[1],))
            probabilities = model(features, training=False)
            if binary:
                probabilities = tf.concat([1.0 - probabilities, probabilities], axis=1)
            index = tf.argmax(probabilities, axis=1, output_type=tf.int32)
            return {"probabilities": probabilities, "class_index": index,
                    "class_name": tf.gather(names, index)}

        count = batch_size_for_check(config.batch_size)
        return [Endpoint(
            name="classify",
            fn=classify,
            input_signature=[tf.TensorSpec((None, data.x_train.shape[1]), tf.float32,
                                           name="features")],
            example=[data.x_test[:count] if len(data.x_test) >= count else data.x_train[:count]],
        )]

    def predict_files(self, loaded, paths):
        lines = []
        spec = loaded.signatures["classify"].structured_input_signature[1]["features"]
        width = spec.shape[1]
        for path in paths:
            rows = read_feature_file(path)
            if rows.shape[1] != width:
                raise UsageError(f"{path} has rows of {rows.shape[1]} values; this model "
                                 f"expected {width} features per row")
            outputs = loaded.classify(tf.constant(rows))
            for number, (name, probabilities) in enumerate(
                    zip(outputs["class_name"].numpy(), outputs["probabilities"].numpy())):
                lines.append(f"{path}:{number + 1}: {name.decode()} "
                             f"(p={probabilities.max():.3f})")
        return lines


def read_feature_file(path):
    """Rows of float features from a .npy or a .csv file (header optional)."""
    try:
        if str(path).endswith(".npy"):
            rows = np.load(path, allow_pickle=False)
        else:
            rows = np.genfromtxt(path, delimiter=",", dtype="float32")
            if rows.ndim == 2 and np.isnan(rows[0]).all():
                rows = rows[1:]
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}; expected a .csv or .npy of "
                         "feature rows") from None
    rows = np.atleast_2d(np.asarray(rows, dtype="float32"))
    if np.isnan(rows).any():
        raise UsageError(f"{path} has non-numeric or missing values; expected float features")
    return rows
