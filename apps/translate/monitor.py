"""Dev translations every epoch: BLEU, exact match, examples, attention maps.

After each epoch :class:`TranslationMonitor` decodes ``examples`` dev
sources greedily (keras-hub's ``GreedySampler``, compiled), adds
``val_bleu`` (keras-hub's ``Bleu`` x 100) and ``val_exact_match`` to the
epoch's logs (so TensorBoard's scalars and the run's history get them), and
writes to TensorBoard (``log_dir/translations``) a table of the first
examples in the Text tab and their attention heat maps in the Images tab.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime.figures import figure_to_png
from dlsuite.apps.translate import bleu, figures


def decode_in_chunks(function, sources, chunk=256, *extra):
    """``function(strings, *extra)`` over ``sources`` in chunks; a list of ``str``
    (``function`` may return ``(texts, scores)``)."""
    found = []
    for start in range(0, len(sources), chunk):
        batch = tf.constant(np.asarray(sources[start:start + chunk], dtype=object).astype(str))
        result = function(batch, *extra)
        found += bleu.as_text(result[0] if isinstance(result, tuple) else result)
    return found


def attention_examples(translator, sources, translations):
    """``[(weights, source labels, output labels), ...]`` for the heat maps."""
    weights, _, source_tokens, output_tokens = translator.compiled("attention")(
        tf.constant(list(sources)), tf.constant(list(translations)))
    return [figures.trimmed(w, s, o) for w, s, o in
            zip(weights.numpy(), source_tokens.numpy(), output_tokens.numpy())]


def markdown_table(sources, references, outputs):
    lines = ["| source | reference | output |", "|---|---|---|"]
    for row in zip(sources, references, outputs):
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


class TranslationMonitor(keras.callbacks.Callback):
    """See the module docstring. ``make_translator(model)`` gives the
    :class:`dlsuite.apps.translate.decoding.Translator` of the model in training."""

    def __init__(self, make_translator, sources, references, log_dir, shown=5, maps=2):
        super().__init__()
        if len(sources) == 0:
            raise ValueError("TranslationMonitor needs dev sources")
        self.make_translator = make_translator
        self.sources, self.references = list(sources), list(references)
        self.log_dir = os.path.join(os.fspath(log_dir), "translations")
        self.shown, self.maps = shown, maps
        self.history = []
        self._translator = None
        self._writer = None

    def on_train_begin(self, logs=None):
        self._translator = self.make_translator(self.model)

    def on_epoch_end(self, epoch, logs=None):
        greedy = self._translator.compiled("greedy_texts")
        outputs = decode_in_chunks(greedy, self.sources)
        scores = {"val_bleu": bleu.keras_hub_bleu(outputs, self.references),
                  "val_exact_match": bleu.exact_match(outputs, self.references)}
        if logs is not None:
            logs.update(scores)
        self.history.append(scores)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        shown = slice(0, self.shown)
        with self._writer.as_default():
            tf.summary.text("dev_translations", markdown_table(
                self.sources[shown], self.references[shown], outputs[shown]), step=epoch)
            if self.maps and self._translator.attention_kind != "none":
                examples = attention_examples(self._translator, self.sources[:self.maps],
                                              outputs[:self.maps])
                png = figure_to_png(figures.attention_figure(examples), dpi=90)
                tf.summary.image("attention", tf.image.decode_png(png)[tf.newaxis], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
