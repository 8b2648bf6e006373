"""``translate``: sequence to sequence with attention, beam search and BLEU.

``dlsuite train translate`` trains an encoder-decoder (``dlsuite.apps.translate.model``:
Keras's bidirectional LSTM or GRU encoder, ``depth`` layers, additive or dot
attention or none) with teacher forcing (``dlsuite.apps.translate.pipeline``) on one
of the corpora of ``dlsuite.apps.data.parallel``: ``dates`` (human-readable dates in
eight locales -> ISO 8601, the default), ``numbers`` (English number words
-> French), ``catalogs`` (English -> French messages of Django's and the
system's translation catalogs) or ``tsv`` (your ``source<TAB>target`` file,
``data_dir=FILE``). Tokens are characters for ``dates`` and reversible words
otherwise (``tokens=auto``); the vocabularies are the model's
``StringLookup`` layers.

Every epoch: dev BLEU (keras-hub's ``Bleu``) and exact match from greedy
decoding, example translations and attention heat maps in TensorBoard. The
report gives sacreBLEU's corpus BLEU of greedy decoding and of beam search
with ``alpha`` 0 and ``alpha``, the attention maps and the worst dev
translations. The export's ``translate(strings, beam_width, alpha)``
tokenizes, searches and detokenizes in the graph
(``dlsuite.apps.translate.decoding`` lists its defined answers). ``dlsuite predict
RUN_DIR "text" FILE.txt`` translates each text argument and each line of
each file.
"""

import dataclasses
import typing

import numpy as np
import tensorflow as tf

from dlsuite.apps.data import parallel
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import App, Endpoint
from dlsuite.apps.runtime.config import BaseConfig, require_fraction, require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.apps.translate import tokens as tok
from dlsuite.apps.translate.decoding import MAX_ALPHA, MAX_BEAM_WIDTH, Translator
from dlsuite.apps.translate.model import (ATTENTIONS, CELLS, build_translation_model,
                                  compile_translation_model)
from dlsuite.apps.translate.monitor import TranslationMonitor
from dlsuite.apps.translate.pipeline import TeacherForcing, length_bucketed, pair_lengths
from dlsuite.apps.translate.report import translation_report

# The longest lines `dlsuite predict` reads from a file, per file.
MAX_PREDICT_LINES = 10_000


@dataclasses.dataclass(frozen=True)
class TranslateConfig(BaseConfig):
    """The translate app's settings; ``--set key=value`` changes any of them."""

    corpus: typing.Literal[parallel.CORPORA] = "dates"
    # Pairs the generated corpora (dates, numbers) make.
    pairs: int = 30_000
    # catalogs: Django's .po files, the system's gettext catalogs, or both.
    catalog_sources: typing.Literal[parallel.CATALOG_SOURCES] = "all"
    min_words: int = 3
    max_words: int = 15
    # auto: characters for dates, words otherwise (apps.translate.tokens).
    tokens: typing.Literal["auto", "word", "char"] = "auto"
    cell: typing.Literal[CELLS] = "lstm"
    attention: typing.Literal[ATTENTIONS] = "additive"
    depth: int = 1
    units: int = 256
    embedding_dim: int = 128
    dropout: float = 0.1
    # Each vocabulary keeps its max_vocabulary most frequent tokens seen
    # min_count times or more in training; the rest are [UNK].
    max_vocabulary: int = 8000
    min_count: int = 1
    # None: twice the longest training sentence, in tokens. Longer sources
    # are cut; translations stop there.
    max_source_tokens: int | None = None
    max_target_tokens: int | None = None
    # The report's and the export example's beam search.
    beam_width: int = 5
    alpha: float = 0.7
    clipnorm: float = 5.0
    # Training batches of pairs of similar lengths (less padding, same epochs).
    bucket_by_length: bool = True
    # Dev pairs decoded every epoch for val_bleu / val_exact_match.
    bleu_examples: int = 500
    attention_examples: int = 4
    worst_examples: int = 10
    # Test (and dev) pairs the report decodes (None: all).
    report_examples: int | None = None
    # About this many training pairs (a seeded subset; dev and test shrink with it).
    limit: int | None = None
    batch_size: int = 64
    epochs: int = 30
    patience: int = 5

    def validate(self):
        super().validate()
        require_positive(self, "pairs", "min_words", "max_words", "depth", "units",
                         "embedding_dim", "max_vocabulary", "min_count", "beam_width",
                         "bleu_examples", "clipnorm")
        require_fraction(self, "dropout")
        for name in ("max_source_tokens", "max_target_tokens", "limit", "report_examples"):
            value = getattr(self, name)
            if value is not None and value < (2 if name == "max_target_tokens" else 1):
                raise ValueError(f"{name} must be >= {2 if name == 'max_target_tokens' else 1} "
                                 f"or none. Received: {name}={value}")
        if self.max_words < self.min_words:
            raise ValueError(f"max_words must be >= min_words. Received: "
                             f"min_words={self.min_words}, max_words={self.max_words}")
        if self.beam_width > MAX_BEAM_WIDTH:
            raise ValueError(f"beam_width must be in [1, {MAX_BEAM_WIDTH}]. Received: "
                             f"beam_width={self.beam_width}")
        if not 0.0 <= self.alpha <= MAX_ALPHA:
            raise ValueError(f"alpha must be in [0, {MAX_ALPHA}]. Received: alpha={self.alpha}")
        if self.attention_examples < 0 or self.worst_examples < 0:
            raise ValueError("attention_examples and worst_examples must be >= 0. Received: "
                             f"attention_examples={self.attention_examples}, "
                             f"worst_examples={self.worst_examples}")
        if self.corpus == "tsv" and not self.data_dir:
            raise ValueError("corpus=tsv needs --set data_dir=FILE (UTF-8 lines of "
                             "source<TAB>target)")

    @property
    def token_mode(self):
        if self.tokens != "auto":
            return self.tokens
        return "char" if self.corpus == "dates" else "word"


@dataclasses.dataclass(frozen=True)
class Setup:
    """What make_datasets fixes from the training split for the model,
    the pipeline and the export."""

    source_vocabulary: list
    target_vocabulary: list
    mode: str
    max_source_tokens: int
    max_target_tokens: int


def _drop_long(data, sources, targets, setup):
    """Keep the training pairs within the token limits; how many were dropped."""
    keep = np.array([len(s) <= setup.max_source_tokens and len(t) < setup.max_target_tokens
                     for s, t in zip(sources, targets)], dtype=bool)
    data.x_train, data.y_train = data.x_train[keep], data.y_train[keep]
    return int((~keep).sum())


@register_app("translate")
class TranslateApp(App):
    """Encoder-decoder with attention: dates, numbers, catalogs or your pairs."""

    config_class = TranslateConfig
    description = ("sequence to sequence with attention (dates, numbers, catalogs, your TSV); "
                   "beam search, BLEU; exports translate")
    # `dlsuite predict RUN_DIR "text"`: an argument that is no file is a text.
    predict_takes_text = True

    def make_datasets(self, config):
        data = parallel.load_parallel(
            config.corpus, seed=config.seed, pairs=config.pairs, limit=config.limit,
            dev_fraction=config.dev_fraction, test_fraction=config.test_fraction,
            data_dir=config.data_dir, catalog_sources=config.catalog_sources,
            min_words=config.min_words, max_words=config.max_words)
        mode = config.token_mode
        sources = tok.token_lists(data.x_train, mode)
        targets = tok.token_lists(data.y_train, mode)
        source_vocabulary = tok.build_vocabulary(sources, config.max_vocabulary - 2,
                                                 config.min_count)
        target_vocabulary = tok.build_vocabulary(targets, config.max_vocabulary - 2,
                                                 config.min_count, reserved=(tok.START, tok.END))
        longest_source = max(len(s) for s in sources)
        longest_target = max(len(t) for t in targets) + 1  # and the end token
        self.setup = Setup(source_vocabulary, target_vocabulary, mode,
                           config.max_source_tokens or 2 * longest_source,
                           config.max_target_tokens or 2 * longest_target)
        dropped = _drop_long(data, sources, targets, self.setup)
        if not len(data.x_train):
            raise UsageError("no training pair fits max_source_tokens / max_target_tokens")
        data.split["sizes"]["train"] = len(data.x_train)
        data.split["tokens"] = {
            "mode": mode, "source_vocabulary": len(source_vocabulary) + 2,
            "target_vocabulary": len(target_vocabulary) + 2,
            "source_coverage": tok.coverage(sources, source_vocabulary),
            "target_coverage": tok.coverage(targets, target_vocabulary),
            "max_source_tokens": self.setup.max_source_tokens,
            "max_target_tokens": self.setup.max_target_tokens,
            "longest_train_source": longest_source, "longest_train_target": longest_target,
            "train_pairs_dropped_as_too_long": dropped}
        return data

    def teacher_forcing(self):
        setup = self.setup
        return TeacherForcing(setup.source_vocabulary, setup.target_vocabulary, setup.mode,
                              setup.mode, setup.max_source_tokens, setup.max_target_tokens)

    def pipeline(self, x, y, global_batch_size, training, epoch=None, replicas=1):
        """Teacher-forced batches; for training (with the run's epoch
        variable) of pairs of similar lengths, in an order seeded by
        ``(seed, epoch)`` (:func:`dlsuite.apps.translate.pipeline.length_bucketed`)."""
        if training and epoch is not None and self.config.bucket_by_length:
            lengths = pair_lengths(x, y, self.setup.mode)
            batches = length_bucketed(x, y, lengths, global_batch_size, self.config.seed, epoch)
        else:
            batches = super().pipeline(x, y, global_batch_size, training, epoch, replicas)
        return self.teacher_forcing().dataset(batches).prefetch(tf.data.AUTOTUNE)

    def build_model(self, config, data):
        model = build_translation_model(
            self.setup.source_vocabulary, self.setup.target_vocabulary, cell=config.cell,
            attention=config.attention, depth=config.depth, units=config.units,
            embedding_dim=config.embedding_dim, dropout=config.dropout)
        optimizer = make_optimizer(config)
        optimizer.clipnorm = config.clipnorm
        return compile_translation_model(model, optimizer, **compile_options(config))

    def translator(self, model):
        setup = self.setup
        return Translator(model, setup.mode, setup.mode, setup.max_source_tokens,
                          setup.max_target_tokens)

    def callbacks(self, config, data, run):
        if not len(data.x_dev):
            return []
        count = config.bleu_examples
        return [TranslationMonitor(self.translator, data.x_dev[:count], data.y_dev[:count],
                                   run.tb, maps=min(2, config.attention_examples))]

    # -- export -----------------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        translator = self.translator(model)
        pool = data.x_test if len(data.x_test) >= 2 else data.x_train
        examples = np.array([str(pool[0]), str(pool[1]), ""], dtype=str)
        return [Endpoint("translate", translator.compiled("translate"),
                         Translator.SIGNATURES["translate"],
                         [examples, np.int32(config.beam_width), np.float32(config.alpha)])]

    def predict_files(self, loaded, paths):
        import os

        texts, origins = [], []
        for item in paths:
            if os.path.isfile(item):
                try:
                    with open(item, encoding="utf-8") as handle:
                        lines = handle.read().splitlines()
                except UnicodeDecodeError:
                    raise UsageError(f"{item} is not UTF-8 text") from None
                if len(lines) > MAX_PREDICT_LINES:
                    raise UsageError(f"{item} holds {len(lines):,} lines; predict reads up to "
                                     f"{MAX_PREDICT_LINES:,} per file")
                texts += lines
                origins += [f"{item}:{n}" for n in range(1, len(lines) + 1)]
            else:
                texts.append(item)
                origins.append(None)
        config = self.config
        found = []
        for start in range(0, len(texts), 64):
            outputs = loaded.translate(strings=tf.constant(texts[start:start + 64]),
                                       beam_width=tf.constant(config.beam_width, tf.int32),
                                       alpha=tf.constant(config.alpha, tf.float32))
            found += [t.decode("utf-8") for t in outputs["translations"].numpy()]
        return [f"{origin + ': ' if origin else ''}{text} -> {translation}"
                for origin, text, translation in zip(origins, texts, found)]

    # -- report -----------------------------------------------------------------------
    def report(self, model, config, data, run):
        return translation_report(self.translator(model), config, data, run)
