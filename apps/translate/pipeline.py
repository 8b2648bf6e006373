"""Teacher forcing, and training batches of pairs of similar lengths.

For a target ``y_1 .. y_T`` the decoder reads ``[START] y_1 .. y_T`` (the
target shifted right by one) and is trained to emit ``y_1 .. y_T [END]``:
at every step it is given the true previous token, not its own guess.
Batches are padded to their longest pair; padding has weight 0.

Pairs differ in length (catalog messages from 3 to 15 words), and a batch
costs as much as its longest pair: :func:`length_bucketed` makes every
training epoch's batches from pairs of similar lengths, in an order that is
a function of ``(seed, epoch)`` alone, like the runtime's own pipeline, so
a resumed run sees the batches an uninterrupted one does.
"""

import math

import tensorflow as tf

from dlsuite.apps.translate import tokens as tok
from dlsuite.apps.translate.model import string_lookup

# Pairs are sorted by length within windows of this many batches.
WINDOW_BATCHES = 32


class TeacherForcing:
    """``(sources, targets)`` string batches -> ``((source ids, decoder
    input ids), target ids, weights)``, numbered as the model's
    ``StringLookup`` layers number them."""

    def __init__(self, source_vocabulary, target_vocabulary, source_mode, target_mode,
                 max_source_tokens, max_target_tokens):
        self.source_lookup = string_lookup(source_vocabulary, "teacher_forcing_source")
        self.target_lookup = string_lookup(target_vocabulary, "teacher_forcing_target")
        self.source_mode, self.target_mode = source_mode, target_mode
        self.max_source_tokens, self.max_target_tokens = max_source_tokens, max_target_tokens

    def __call__(self, sources, targets):
        source = tok.tokenize(sources, self.source_mode)[:, :self.max_source_tokens]
        # Room for the end token within max_target_tokens.
        target = tok.tokenize(targets, self.target_mode)[:, :self.max_target_tokens - 1]
        rows = target.nrows()
        starts = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tok.START))
        ends = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], tok.END))
        decoder_input = tf.concat([starts, target], axis=1).to_tensor(default_value=tok.PAD)
        labels = tf.concat([target, ends], axis=1).to_tensor(default_value=tok.PAD)
        labels = self.target_lookup(labels)
        weights = tf.cast(tf.not_equal(labels, tok.PAD_ID), tf.float32)
        return ((self.source_lookup(source.to_tensor(default_value=tok.PAD)),
                 self.target_lookup(decoder_input)), labels, weights)

    def dataset(self, batches):
        """Map a ``tf.data`` pipeline of ``(sources, targets)`` batches."""
        return batches.map(self, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def pair_lengths(sources, targets, mode):
    """The longer side of each pair, in tokens (int64 numpy)."""
    def lengths(texts):
        return tok.tokenize(tf.constant(texts.astype(str)), mode).row_lengths().numpy()

    return tf.maximum(lengths(sources), lengths(targets)).numpy()


def length_bucketed(sources, targets, lengths, global_batch_size, seed, epoch,
                    window_batches=WINDOW_BATCHES):
    """``(sources, targets)`` string batches of one training epoch.

    Each epoch: a permutation seeded by ``(seed, epoch)``; within windows of
    ``window_batches`` batches of it, pairs sorted by ``lengths`` (stable);
    the sorted pairs cut into batches; the full batches in an order seeded
    by ``(seed, epoch)`` too, a partial one last. ``epoch`` is the run's
    epoch variable, read when each epoch's iteration starts.
    """
    count = len(sources)
    batches, full = math.ceil(count / global_batch_size), count // global_batch_size
    window = global_batch_size * window_batches
    tensors = (tf.constant(sources.astype(str)), tf.constant(targets.astype(str)))
    lengths = tf.constant(lengths, tf.int64)
    longest = tf.reduce_max(lengths) + 1

    def epoch_batches(_):
        current = epoch.read_value()
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), current]))
        keys = tf.range(count, dtype=tf.int64) // window * longest + tf.gather(lengths, order)
        order = tf.gather(order, tf.argsort(keys, stable=True))
        starts = tf.random.experimental.stateless_shuffle(
            tf.range(full, dtype=tf.int64) * global_batch_size,
            seed=tf.stack([tf.constant(seed, tf.int64) + 1, current]))
        # A partial batch comes last, as in the runtime's pipeline: Keras
        # builds a distributed model from the first batch, which must split
        # evenly over the replicas.
        starts = tf.concat([starts, tf.range(full, batches, dtype=tf.int64)
                            * global_batch_size], axis=0)
        return tf.data.Dataset.from_tensor_slices(starts).map(
            lambda start: order[start:start + global_batch_size])

    def gather(indices):
        return tuple(tf.gather(tensor, indices) for tensor in tensors)

    dataset = (tf.data.Dataset.from_tensors(0).flat_map(epoch_batches)
               .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))
