"""Translating with a trained model, compiled: the exported ``translate``.

A decoding step runs the trained layers themselves (the model's named
layers, :mod:`dlsuite.apps.translate.model`): the target embedding, each decoder
layer's cell (``layer.cell``, the very step function Keras's recurrent
layer loops over), one attention query against the encoder outputs, the
combination and the output layer. Tokens the decoder must never emit
(padding, ``[UNK]``, ``[START]``) get a logit of -1e9.

* :meth:`Translator.greedy`: keras-hub's ``GreedySampler`` over that step.
* :meth:`Translator.search`: :class:`LengthNormalizedBeamSampler` (beam
  width 1 is greedy decoding).
* :meth:`Translator.translate`, the SavedModel signature
  ``translate(strings, beam_width, alpha) -> {translations, scores}``:
  tokenization, vocabulary lookup, encoding, beam search, detokenization,
  all in the graph. Defined answers:

  - an empty (or all-white-space) string -> ``""``, score 0;
  - a string none of whose tokens the model knows (every token but
    spaces ``[UNK]``) -> the string itself, white space normalised,
    score 0: as gettext answers a message it has no translation for;
  - unknown tokens among known ones are read as ``[UNK]``; the output never
    holds ``[UNK]``;
  - a source longer than ``max_source_tokens`` tokens is translated from
    its first ``max_source_tokens`` tokens; a string over 10,000 bytes is
    refused (``signature_inputs.string_batch``);
  - a translation stops at ``max_target_tokens`` tokens; the best
    hypothesis is then ranked without an end token;
  - ``beam_width`` must be in [1, 64], ``alpha`` in [0, 5].

* :meth:`Translator.attention`: forced decoding of a given translation,
  returning the attention weights of each output token over the source
  tokens (the heat maps) and the log-probability of each output token.
"""

import keras_hub
import tensorflow as tf

from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.translate import model as parts
from dlsuite.apps.translate import tokens as tok
from dlsuite.apps.translate.beam_search import LengthNormalizedBeamSampler

MAX_BEAM_WIDTH = 64
MAX_ALPHA = 5.0
NEVER = -1e9


def _layers(model, name_of):
    found = []
    while True:
        try:
            found.append(model.get_layer(name_of(len(found))))
        except ValueError:
            return found


class Translator:
    """Encoding, a decoding step and the searches of one trained model."""

    def __init__(self, model, source_mode, target_mode, max_source_tokens, max_target_tokens):
        self.model = model
        self.source_mode, self.target_mode = source_mode, target_mode
        self.max_source_tokens, self.max_target_tokens = max_source_tokens, max_target_tokens
        self.source_lookup = model.source_lookup
        self.target_lookup = model.target_lookup
        self.source_embedding = model.get_layer(parts.SOURCE_EMBEDDING)
        self.target_embedding = model.get_layer(parts.TARGET_EMBEDDING)
        self.encoders = _layers(model, parts.encoder_name)
        self.decoders = _layers(model, parts.decoder_name)
        self.cell = "lstm" if "lstm" in type(self.decoders[0]).__name__.lower() else "gru"
        self.bridges = [[model.get_layer(parts.bridge_name(i, part))
                         for part in parts.state_parts(self.cell)]
                        for i in range(len(self.encoders))]
        names = {layer.name for layer in model.layers}
        self.attention_kind = "none"
        if parts.ATTENTION in names:
            self.attention_layer = model.get_layer(parts.ATTENTION)
            self.keys = model.get_layer(parts.KEYS)
            self.combine = model.get_layer(parts.COMBINE)
            self.attention_kind = "additive" if parts.QUERY in names else "dot"
            self.query = model.get_layer(parts.QUERY) if parts.QUERY in names else None
        self.logits = model.get_layer(parts.LOGITS)
        vocabulary = self.target_lookup.get_vocabulary()
        if vocabulary[tok.START_ID] != tok.START or vocabulary[tok.END_ID] != tok.END:
            raise ValueError("the target vocabulary must start with [START], [END]; received "
                             f"{vocabulary[:4]}")
        self.target_tokens = tf.constant(vocabulary)
        self.never = tf.constant([NEVER if i in (tok.PAD_ID, tok.UNKNOWN_ID, tok.START_ID)
                                  else 0.0 for i in range(len(vocabulary))], tf.float32)
        self._compiled = {}

    # -- encoding ------------------------------------------------------------------------
    def source_tokens(self, texts):
        """``(batch, steps)`` source tokens, ``""``-padded, at most
        ``max_source_tokens``, at least one column."""
        ragged = tok.tokenize(texts, self.source_mode)[:, :self.max_source_tokens]
        lengths = tf.cast(ragged.row_lengths(), tf.int32)
        width = tf.reduce_max(tf.concat([lengths, [1]], axis=0))
        return ragged.to_tensor(default_value="", shape=tf.stack([ragged.nrows(
            out_type=tf.int32), width]))

    def encode(self, source_tokens):
        """``(memory, keys, mask, decoder initial states)`` of a token batch."""
        ids = self.source_lookup(source_tokens)
        mask = tf.not_equal(ids, tok.PAD_ID)
        x = self.source_embedding(ids)
        states = []
        for encoder, bridges in zip(self.encoders, self.bridges):
            outputs = encoder(x, mask=mask, training=False)
            x, finals = outputs[0], outputs[1:]
            half = len(finals) // 2
            states.append([bridge(tf.concat([finals[k], finals[half + k]], axis=-1))
                           for k, bridge in enumerate(bridges)])
        keys = self.keys(x) if self.attention_kind != "none" else None
        return x, keys, mask, states

    # -- one step ------------------------------------------------------------------------
    def step(self, previous_ids, states, memory, keys, mask):
        """``(logits (batch, vocabulary) float32, states, attention weights
        (batch, source steps) or None)`` of the token after ``previous_ids``."""
        # tf.identity drops the padding mask Keras attaches to the embedding's
        # output: a cell takes one step and has no use for it.
        y = tf.identity(self.target_embedding(previous_ids))
        new_states = []
        for decoder, state in zip(self.decoders, states):
            y, state = decoder.cell(y, state, training=False)
            new_states.append(list(tf.nest.flatten(state)))
        weights = None
        if self.attention_kind != "none":
            query = self.query(y) if self.query is not None else y
            context, weights = self.attention_layer(
                [query[:, tf.newaxis], memory, keys], mask=[None, mask],
                return_attention_scores=True, training=False)
            y = self.combine(tf.concat([context[:, 0], y], axis=-1))
            weights = weights[:, 0]
        logits = tf.cast(self.logits(y), tf.float32) + self.never
        return logits, new_states, weights

    def next_function(self, memory, keys, mask):
        """keras-hub's sampler contract: ``next(prompt, cache, index)``."""
        def next(prompt, states, index):
            previous = tf.gather(prompt, index - 1, axis=1)
            logits, states, _ = self.step(previous, states, memory, keys, mask)
            return logits, None, states

        return next

    def prompt(self, rows):
        """``(rows, max_target_tokens + 1)`` ids: the start token, then padding."""
        starts = tf.fill([rows, 1], tf.constant(tok.START_ID, tf.int64))
        return tf.concat([starts, tf.zeros([rows, self.max_target_tokens], tf.int64)], axis=1)

    # -- searches ------------------------------------------------------------------------
    def greedy(self, source_tokens):
        """keras-hub's GreedySampler: ``(batch, max_target_tokens + 1)`` ids."""
        memory, keys, mask, states = self.encode(source_tokens)
        return keras_hub.samplers.GreedySampler()(
            self.next_function(memory, keys, mask), self.prompt(tf.shape(source_tokens)[0]),
            cache=states, index=1, stop_token_ids=[tok.END_ID])

    def search(self, source_tokens, beam_width, alpha, return_all_beams=False):
        """Length-normalised beam search: ``(ids, scores)``."""
        memory, keys, mask, states = self.encode(source_tokens)
        beam_width = tf.cast(beam_width, tf.int32)

        def repeat(x):
            return None if x is None else tf.repeat(x, beam_width, axis=0)

        sampler = LengthNormalizedBeamSampler(num_beams=beam_width, alpha=alpha,
                                              return_all_beams=return_all_beams)
        return sampler(self.next_function(repeat(memory), repeat(keys), repeat(mask)),
                       self.prompt(tf.shape(source_tokens)[0]), cache=states, index=1,
                       stop_token_ids=[tok.END_ID])

    def output_tokens(self, ids):
        """Generated ids (after the start token) -> token strings, ``""`` from
        the first end token on."""
        generated = ids[..., 1:]
        ended = tf.cumsum(tf.cast(tf.equal(generated, tok.END_ID), tf.int32), axis=-1) > 0
        keep = tf.logical_and(tf.logical_not(ended), generated > tok.END_ID)
        return tf.where(keep, tf.gather(self.target_tokens, generated), "")

    def to_texts(self, ids):
        return tok.detokenize(self.output_tokens(ids), self.target_mode)

    def greedy_texts(self, texts):
        return self.to_texts(self.greedy(self.source_tokens(texts)))

    def beam_texts(self, texts, beam_width, alpha):
        ids, scores = self.search(self.source_tokens(texts), beam_width, alpha)
        return self.to_texts(ids), scores

    # -- the signature -------------------------------------------------------------------
    def translate(self, strings, beam_width, alpha):
        strings = signature_inputs.string_batch(strings, signature="translate", name="strings")
        beam_width = signature_inputs.scalar(beam_width, signature="translate",
                                             name="beam_width", low=1, high=MAX_BEAM_WIDTH)
        alpha = signature_inputs.scalar(alpha, signature="translate", name="alpha", low=0.0,
                                        high=MAX_ALPHA)
        source_tokens = self.source_tokens(strings)
        ids, scores = self.search(source_tokens, beam_width, alpha)
        texts = self.to_texts(ids)
        source_ids = self.source_lookup(source_tokens)
        present = tf.reduce_sum(tf.cast(source_ids != tok.PAD_ID, tf.int32), axis=1)
        # A space (a token of its own in char mode) tells nothing of the text.
        known = tf.reduce_sum(tf.cast(tf.logical_and(source_ids > tok.UNKNOWN_ID,
                                                     source_tokens != " "), tf.int32), axis=1)
        empty = tf.equal(present, 0)
        unknown_only = tf.logical_and(present > 0, tf.equal(known, 0))
        texts = tf.where(empty, "", tf.where(unknown_only, tok.normalize(strings), texts))
        scores = tf.where(tf.logical_or(empty, unknown_only), 0.0, scores)
        return {"translations": texts, "scores": scores}

    # -- attention maps ------------------------------------------------------------------
    def attention(self, texts, translations):
        """Forced decoding of ``translations``: ``(attention (batch, output
        steps + 1, source steps), token log-probabilities (batch, output
        steps + 1; 0 after the end token), source tokens, output tokens
        with the end token)``. Without attention the weights are zeros."""
        source_tokens = self.source_tokens(texts)
        targets = tok.tokenize(translations, self.target_mode)[:, :self.max_target_tokens]
        targets = targets.to_tensor(default_value="")
        rows = tf.shape(targets)[0]
        target_ids = tf.cast(self.target_lookup(targets), tf.int64)
        lengths = tf.reduce_sum(tf.cast(target_ids != tok.PAD_ID, tf.int32), axis=1)
        ends = tf.one_hot(lengths, tf.shape(target_ids)[1] + 1, on_value=tok.END_ID,
                          off_value=0, dtype=tf.int64)
        following = tf.concat([target_ids, tf.zeros([rows, 1], tf.int64)], axis=1) + ends
        previous = tf.concat([tf.fill([rows, 1], tf.constant(tok.START_ID, tf.int64)),
                              target_ids], axis=1)
        memory, keys, mask, states = self.encode(source_tokens)
        steps = tf.shape(previous)[1]

        def body(t, states, weights, log_probs):
            logits, states, attended = self.step(previous[:, t], states, memory, keys, mask)
            if attended is None:
                attended = tf.zeros(tf.shape(mask), tf.float32)
            chosen = tf.gather(tf.nn.log_softmax(logits), following[:, t], batch_dims=1)
            chosen = tf.where(t <= lengths, chosen, 0.0)
            return (t + 1, states, weights.write(t, tf.cast(attended, tf.float32)),
                    log_probs.write(t, chosen))

        _, _, weights, log_probs = tf.while_loop(
            lambda t, *_: t < steps, body,
            (tf.constant(0), states, tf.TensorArray(tf.float32, size=steps),
             tf.TensorArray(tf.float32, size=steps)))
        return (tf.transpose(weights.stack(), [1, 0, 2]), tf.transpose(log_probs.stack()),
                source_tokens,
                tf.where(ends > 0, tok.END, tf.concat([targets, tf.fill([rows, 1], "")], axis=1)))

    # -- compiled ------------------------------------------------------------------------
    SIGNATURES = {
        "translate": [tf.TensorSpec([None], tf.string, name="strings"),
                      tf.TensorSpec([], tf.int32, name="beam_width"),
                      tf.TensorSpec([], tf.float32, name="alpha")],
        "greedy_texts": [tf.TensorSpec([None], tf.string, name="strings")],
        "beam_texts": [tf.TensorSpec([None], tf.string, name="strings"),
                       tf.TensorSpec([], tf.int32, name="beam_width"),
                       tf.TensorSpec([], tf.float32, name="alpha")],
        "attention": [tf.TensorSpec([None], tf.string, name="strings"),
                      tf.TensorSpec([None], tf.string, name="translations")],
    }

    def compiled(self, name):
        """One of :data:`SIGNATURES` as a ``tf.function`` (traced once)."""
        if name not in self._compiled:
            self._compiled[name] = tf.function(getattr(self, name),
                                               input_signature=self.SIGNATURES[name])
        return self._compiled[name]
