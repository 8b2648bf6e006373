"""``seqclass``: sequence classification with bidirectional, stacked RNNs.

``dlsuite train seqclass`` classifies labelled time series: JapaneseVowels
(the default: nine speakers from 7-29 frames of 12 LPC cepstrum
coefficients), GunPoint (univariate, 150 steps) or the user's CSV of series
(``dataset=csv data_dir=FILE.csv``; ``dlsuite.apps.data.sequences``). The model is
Keras's ``SimpleRNN``, ``LSTM`` or ``GRU`` (``cell``), ``depth`` of them
stacked, each wrapped in ``Bidirectional`` unless ``bidirectional=false``.

Series of different lengths are NaN-padded; ``dlsuite.layers.NaNMasking`` turns
the padding into a Keras mask, so every recurrent layer skips it (padding
never enters the final state; tests/layers/test_nan_masking.py checks that
a padded batch equals each series alone). Features are standardised inside
the model with statistics of the real (unpadded) training steps.

The report is the foundation's ML-strategy report (``dlsuite.apps.runtime.
classification``): accuracy and macro-F1, bias and variance against
``human_error``, dev error analysis, the confusion matrix. The export's
``classify(series, lengths)`` takes float32 ``(batch, steps, features)``
padded with any finite value after each series' length, and returns class
probabilities, index and name.
"""

import csv
import dataclasses
import typing

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.recurrent import CELLS, recurrent_layer as cell_layer
from dlsuite.apps.data.sequences import DATASETS, load_sequences
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import Endpoint, batch_size_for_check
from dlsuite.apps.runtime.classification import ClassificationApp, compile_classifier
from dlsuite.apps.runtime.config import BaseConfig, require_fraction, require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.layers import NaNMasking

# The longest series classify takes, in steps.
MAX_STEPS = 100_000


@dataclasses.dataclass(frozen=True)
class SeqClassConfig(BaseConfig):
    """The seqclass app's settings; ``--set key=value`` changes any of them."""

    dataset: typing.Literal[DATASETS] = "japanese_vowels"
    cell: typing.Literal[CELLS] = "gru"
    depth: int = 2
    units: int = 64
    bidirectional: bool = True
    # Stack this many consecutive steps into one input vector: GunPoint's 150
    # steps of one value are 15 steps of 10 values for frame=10, a tenth of
    # the recurrent steps for the same series (the export takes raw steps).
    frame: int = 1
    dropout: float = 0.2
    # GRU only: Keras's default (True) or the curriculum's form (False).
    reset_after: bool = True
    batch_size: int = 16
    learning_rate: float = 3e-3
    epochs: int = 80
    patience: int = 15
    # Keep a seeded, stratified subset of this many series (None = all).
    limit: int | None = None

    def validate(self):
        super().validate()
        require_positive(self, "depth", "units", "frame")
        require_fraction(self, "dropout")
        if self.dataset == "csv" and not self.data_dir:
            raise ValueError("dataset=csv needs --set data_dir=FILE.csv")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"limit must be >= 10. Received: limit={self.limit}")


def recurrent_layer(config, return_sequences, name):
    layer = cell_layer(config.cell, config.units, return_sequences=return_sequences,
                       reset_after=config.reset_after, name=name)
    if config.bidirectional:
        return keras.layers.Bidirectional(layer, name=f"bidirectional_{name}")
    return layer


def build_classifier(config, features, num_classes, mean, variance):
    """NaN-padded series ``(batch, steps, features)`` -> class probabilities."""
    inputs = keras.Input((None, features), name="series")
    # Standardise first: NaN padding stays NaN, and NaNMasking then masks it.
    x = keras.layers.Normalization(mean=mean, variance=variance, name="standardize")(inputs)
    x = NaNMasking(name="padding_mask")(x)
    for index in range(config.depth):
        x = recurrent_layer(config, return_sequences=index < config.depth - 1,
                            name=f"{config.cell}_{index}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                 name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"seqclass_{config.cell}")


def pad_with_nan(series, lengths):
    """In-graph: steps at or beyond each series' length become NaN."""
    steps = tf.shape(series)[1]
    valid = tf.range(steps)[tf.newaxis, :] < lengths[:, tf.newaxis]
    return tf.where(valid[:, :, tf.newaxis], series, tf.constant(np.nan, series.dtype))


def stack_frames(x, frame):
    """NaN-padded ``(N, T, D)`` -> ``(N, ceil(T / frame), frame * D)``."""
    count, steps, features = x.shape
    extra = -steps % frame
    x = np.concatenate([x, np.full((count, extra, features), np.nan, x.dtype)], axis=1)
    return x.reshape(count, (steps + extra) // frame, frame * features)


def unstack_frames(x, frame, features):
    """The inverse of :func:`stack_frames` (the padding stays)."""
    return x.reshape(len(x), -1, features)


def stack_frames_in_graph(x, frame):
    """:func:`stack_frames` inside the export's graph."""
    shape = tf.shape(x)
    extra = tf.math.floormod(-shape[1], frame)
    x = tf.pad(x, [[0, 0], [0, extra], [0, 0]], constant_values=np.nan)
    return tf.reshape(x, [shape[0], (shape[1] + extra) // frame, frame * x.shape[-1]])


def finite_padded(x):
    """NaN padding -> zeros (what a user sends with ``lengths``)."""
    return np.nan_to_num(x, nan=0.0)


@register_app("seqclass")
class SeqClassApp(ClassificationApp):
    """Bidirectional, stacked RNN classifier of variable-length series."""

    config_class = SeqClassConfig
    description = ("sequence classification with bidirectional stacked rnn / lstm / gru "
                   "(JapaneseVowels, GunPoint, your CSV of series)")

    def load_data(self, config):
        data = load_sequences(config.dataset, seed=config.seed, dev_fraction=config.dev_fraction,
                              test_fraction=config.test_fraction, data_dir=config.data_dir,
                              limit=config.limit)
        # What a caller of the export sends per step, before framing.
        self.step_features = data.x_train.shape[-1]
        if config.frame > 1:
            for split in ("train", "dev", "test"):
                setattr(data, f"x_{split}", stack_frames(getattr(data, f"x_{split}"), config.frame))
                lengths = getattr(data, f"lengths_{split}")
                setattr(data, f"lengths_{split}", -(-lengths // config.frame))
        return data

    def build_model(self, config, data):
        steps = data.x_train.reshape(-1, data.x_train.shape[-1])
        steps = steps[~np.isnan(steps).all(axis=1)]
        mean = np.nanmean(steps, axis=0)
        variance = np.maximum(np.nanvar(steps, axis=0), 1e-6)
        model = build_classifier(config, data.x_train.shape[-1], data.num_classes, mean, variance)
        return compile_classifier(model, config, "softmax", data.num_classes)

    def export_endpoints(self, model, config, data):
        names = tf.constant(list(data.class_names))
        features = self.step_features
        frame = config.frame

        def classify(series, lengths):
            series = signature_inputs.float_batch(series, signature="classify", name="series",
                                                  inner_shape=(None, features))
            lengths = signature_inputs.int_batch(lengths, signature="classify", name="lengths",
                                                 low=1, high=MAX_STEPS + 1)
            shape = tf.shape(series)
            checks = [
                tf.debugging.Assert(tf.equal(tf.shape(lengths)[0], shape[0]), [
                    "classify expects one length per series; received batch", shape[0],
                    "and lengths", tf.shape(lengths)[0]]),
                tf.debugging.Assert(tf.reduce_all(lengths <= shape[1]), [
                    "classify expects every length <= the steps of series,", shape[1],
                    "; received a length of", tf.reduce_max(lengths)]),
            ]
            with tf.control_dependencies(checks):
                padded = tf.ensure_shape(pad_with_nan(series, lengths), [None, None, features])
                if frame > 1:
                    padded = stack_frames_in_graph(padded, frame)
                probabilities = model(padded, training=False)
            index = tf.argmax(probabilities, axis=1, output_type=tf.int32)
            return {"probabilities": probabilities, "class_index": index,
                    "class_name": tf.gather(names, index)}

        count = batch_size_for_check(config.batch_size)
        x, lengths = ((data.x_test, data.lengths_test) if len(data.x_test) >= count
                      else (data.x_train, data.lengths_train))
        if frame > 1:  # the export takes raw steps
            x = unstack_frames(x, frame, features)
            lengths = np.isfinite(x).any(axis=2).sum(axis=1)
        return [Endpoint(
            name="classify", fn=classify,
            # Any shape: the checks above say what is wrong with a bad one.
            input_signature=[tf.TensorSpec(None, tf.float32, name="series"),
                             tf.TensorSpec(None, tf.int32, name="lengths")],
            example=[finite_padded(x[:count]), lengths[:count].astype(np.int32)],
        )]

    def predict_files(self, loaded, paths):
        lines = []
        for path in paths:
            series = read_unlabelled_series(path)
            lengths = np.array([len(s) for s in series], np.int32)
            padded = np.zeros((len(series), lengths.max(), series[0].shape[1]), np.float32)
            for row, values in enumerate(series):
                padded[row, :len(values)] = values
            try:
                outputs = loaded.classify(tf.constant(padded), tf.constant(lengths))
            except tf.errors.InvalidArgumentError as error:
                raise UsageError(f"{path}: {signature_inputs.explain(error)}") from None
            for number, (name, probabilities) in enumerate(
                    zip(outputs["class_name"].numpy(), outputs["probabilities"].numpy())):
                lines.append(f"{path}:{number + 1}: {name.decode()} "
                             f"(p={probabilities.max():.3f}, {lengths[number]} steps)")
        return lines


def read_unlabelled_series(path):
    """Series to classify from a CSV: one univariate series per row (numbers
    only), or the long layout (a header with `series` and feature columns,
    one row per step; a `label` column is ignored)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows:
        raise UsageError(f"{path} holds no series")
    header = [cell.strip().lower() for cell in rows[0]]
    series = []
    try:
        if "series" in header:
            columns = [i for i, name in enumerate(header) if name not in ("series", "label")]
            grouped = {}
            for row in rows[1:]:
                grouped.setdefault(row[header.index("series")].strip(), []).append(
                    [float(row[i]) for i in columns])
            series = [np.asarray(steps, np.float32) for steps in grouped.values()]
        else:
            start = 0 if _numeric(rows[0]) else 1
            for row in rows[start:]:
                cells = [cell.strip() for cell in row]
                while cells and not cells[-1]:
                    cells.pop()
                series.append(np.asarray([float(c) for c in cells], np.float32)[:, np.newaxis])
    except (ValueError, IndexError):
        raise UsageError(f"{path}: expected numbers, one univariate series per row, or a "
                         "`series` column and feature columns, one row per step") from None
    if not series or not all(len(s) and np.isfinite(s).all() for s in series):
        raise UsageError(f"{path}: every series needs one or more finite values")
    return series


def _numeric(row):
    try:
        [float(cell) for cell in row if cell.strip()]
    except ValueError:
        return False
    return True
