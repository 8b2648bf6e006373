"""Beam search with length normalisation, as a keras-hub sampler.

The curriculum ranks a finished translation ``y_1 .. y_T`` of ``x`` by

    score(y) = 1 / T^alpha * sum_{t=1..T} log P(y_t | x, y_1 .. y_{t-1})

where ``T`` counts the generated tokens, the end token included, and
``alpha`` in [0, 1] (0.7 is usual) interpolates between the raw
log-probability (``alpha = 0``, which favours short outputs) and the mean
log-probability per token (``alpha = 1``).

Why our own: keras-hub 0.32's ``BeamSampler`` (the sampler API this builds
on) ranks beams by the raw sum of log-probabilities, with no length
normalisation; a beam that has emitted the end token keeps being extended
and keeps adding the log-probabilities of the tokens after it until every
beam of the batch has ended, so finished hypotheses are neither frozen nor
ranked by what they are; and its ``num_beams`` is a Python int, fixed when
the graph is traced. Here:

* each of the ``num_beams`` slots of a row is either alive or finished. An
  alive slot proposes its ``V`` one-token extensions; a finished slot
  proposes itself, unchanged. The ``num_beams`` best proposals by the
  score above (each with its own ``T``) become the next slots (the scheme
  of GNMT and tensorflow/nmt). Choosing the end token finishes a slot.
  With one beam this is greedy decoding, token for token;
* the search stops when every slot of every row has finished, or after
  ``max_length - index`` tokens; a slot still alive then is ranked with
  the tokens it has (no end token);
* ``num_beams``, ``alpha`` and ``temperature`` may be tensors, so one
  SavedModel signature takes them per request;
* it is one ``tf.while_loop`` (TensorFlow backend): compiled into the
  graph, no Python per token, batched over rows and beams.

The call contract is keras-hub's (``keras_hub.samplers.Sampler``):
``next(prompt, cache, index) -> (logits, hidden_states, cache)`` gives the
logits of the token at ``index`` of ``prompt`` (``(batch, max_length)``
ids), with ``cache`` any nest of tensors whose first axis is the batch; the
same ``next`` drives keras-hub's ``GreedySampler``. ``mask`` is not
supported: every row starts at ``index``.

    >>> sampler = LengthNormalizedBeamSampler(num_beams=5, alpha=0.7)
    >>> ids, scores = sampler(next, prompt, cache=states, index=1,
    ...                       stop_token_ids=[end_id])  # doctest: +SKIP
"""

import keras_hub
import tensorflow as tf

# The log-probability of an empty slot (fewer candidates than beams): far
# below any real score, finite so that arithmetic on it stays finite.
EMPTY = -1e9


def _batch_invariant(tensor):
    return tf.TensorShape([None]).concatenate(tensor.shape[1:])


class LengthNormalizedBeamSampler(keras_hub.samplers.Sampler):
    """Beam search ranked by ``sum log P / T^alpha`` (see the module docstring).

    Args:
        num_beams: int or scalar int tensor >= 1, the beam width.
        alpha: float or scalar tensor >= 0, the length-normalisation power.
        return_all_beams: also return every slot, best first.
        temperature: divides the logits before the softmax (keras-hub's).

    Returns (call): ``(sequences, scores)``: ``(batch, max_length)`` ids
    (the prompt with the best hypothesis written from ``index``; after an
    end token, the prompt's own ids) and its ``(batch,)`` score; with
    ``return_all_beams``, ``(batch, num_beams, max_length)`` and
    ``(batch, num_beams)``, sorted by score.
    """

    def __init__(self, num_beams=5, alpha=0.0, return_all_beams=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_beams, int) and num_beams < 1:
            raise ValueError(f"num_beams must be >= 1. Received: num_beams={num_beams}")
        if isinstance(alpha, (int, float)) and not alpha >= 0:
            raise ValueError(f"alpha must be >= 0. Received: alpha={alpha}")
        self.num_beams = num_beams
        self.alpha = alpha
        self.return_all_beams = return_all_beams

    def __call__(self, next, prompt, cache=None, index=0, mask=None, stop_token_ids=None,
                 hidden_states=None, model=None):
        if mask is not None:
            raise ValueError("LengthNormalizedBeamSampler starts every row at `index`; "
                             "a prompt mask is not supported")
        if not stop_token_ids:
            raise ValueError("LengthNormalizedBeamSampler needs stop_token_ids (the end token)")
        prompt = tf.convert_to_tensor(prompt)
        beams = tf.cast(self.num_beams, tf.int32)
        alpha = tf.cast(self.alpha, tf.float32)
        index = tf.cast(index, tf.int32)
        rows, max_length = tf.shape(prompt)[0], tf.shape(prompt)[1]
        stops = tf.constant(list(stop_token_ids), dtype=prompt.dtype)
        cache = () if cache is None else cache

        def repeat(x):
            return tf.repeat(x, beams, axis=0)

        sequences = repeat(prompt)
        cache = tf.nest.map_structure(repeat, cache)
        first = tf.concat([[0.0], tf.fill([beams - 1], EMPTY)], axis=0)
        log_probs = tf.tile(first[tf.newaxis], [rows, 1])
        finished = tf.zeros([rows, beams], tf.bool)
        lengths = tf.zeros([rows, beams], tf.int32)

        def normalised(values, counts):
            return values / tf.pow(tf.cast(tf.maximum(counts, 1), tf.float32), alpha)

        def cond(position, sequences, cache, log_probs, finished, lengths):
            settled = tf.logical_or(finished, log_probs <= EMPTY / 2)
            return tf.logical_and(position < max_length,
                                  tf.logical_not(tf.reduce_all(settled)))

        def body(position, sequences, cache, log_probs, finished, lengths):
            logits, _, new_cache = next(sequences, cache, position)
            logits = tf.cast(logits, tf.float32) / tf.cast(self.temperature, tf.float32)
            # Within one slot every extension has the same length, so its
            # best `beams` tokens by log-probability are its only candidates
            # for the row's best `beams`: the ranking below runs over
            # (rows, beams, beams) proposals, not (rows, beams, vocabulary).
            # top_k puts the lower token first among equals, as a top_k over
            # the whole vocabulary would.
            vocabulary = tf.shape(logits)[-1]
            width = tf.minimum(beams, vocabulary)
            top_logits, top_tokens = tf.math.top_k(logits, k=width)
            top_log_probs = top_logits - tf.reduce_logsumexp(logits, axis=-1, keepdims=True)
            top_log_probs = tf.reshape(top_log_probs, [rows, beams, width])
            top_tokens = tf.reshape(top_tokens, [rows, beams, width])
            # A finished slot proposes itself once (as its first candidate),
            # nothing else.
            is_first = tf.equal(tf.range(width), 0)[tf.newaxis, tf.newaxis]
            done = finished[..., tf.newaxis]
            candidates = tf.where(
                done, tf.where(is_first, log_probs[..., tf.newaxis], -float("inf")),
                log_probs[..., tf.newaxis] + top_log_probs)
            counts = tf.where(done, lengths[..., tf.newaxis], lengths[..., tf.newaxis] + 1)
            scores = normalised(candidates, counts)
            flat = tf.reshape(scores, [rows, beams * width])
            _, chosen = tf.math.top_k(flat, k=beams)
            beam = chosen // width

            def pick(values):  # (rows, beams, width) -> (rows, beams) at `chosen`
                return tf.gather(tf.reshape(values, [rows, beams * width]), chosen,
                                 batch_dims=1)

            token = pick(top_tokens)
            was_finished = tf.gather(finished, beam, batch_dims=1)
            new_log_probs = pick(candidates)
            new_lengths = pick(tf.broadcast_to(counts, tf.shape(candidates)))
            token = tf.cast(token, prompt.dtype)
            is_stop = tf.reduce_any(tf.equal(token[..., tf.newaxis], stops), axis=-1)
            new_finished = tf.logical_or(was_finished, is_stop)
            source_rows = tf.reshape(beam + tf.range(rows)[:, tf.newaxis] * beams, [-1])
            sequences = tf.gather(sequences, source_rows)
            written = tf.where(tf.reshape(was_finished, [-1]), sequences[:, position],
                               tf.reshape(token, [-1]))
            here = tf.equal(tf.range(max_length), position)[tf.newaxis]
            sequences = tf.where(here, written[:, tf.newaxis], sequences)
            new_cache = tf.nest.map_structure(lambda x: tf.gather(x, source_rows), new_cache)
            return position + 1, sequences, new_cache, new_log_probs, new_finished, new_lengths

        loop_vars = (index, sequences, cache, log_probs, finished, lengths)
        invariants = (tf.TensorShape([]), _batch_invariant(sequences),
                      tf.nest.map_structure(_batch_invariant, cache),
                      tf.TensorShape([None, None]), tf.TensorShape([None, None]),
                      tf.TensorShape([None, None]))
        _, sequences, _, log_probs, _, lengths = tf.while_loop(
            cond, body, loop_vars, shape_invariants=invariants,
            maximum_iterations=tf.maximum(max_length - index, 0))
        scores = normalised(log_probs, lengths)
        sequences = tf.reshape(sequences, [rows, beams, max_length])
        order = tf.argsort(scores, axis=-1, direction="DESCENDING", stable=True)
        scores = tf.gather(scores, order, batch_dims=1)
        sequences = tf.gather(sequences, order, batch_dims=1)
        if self.return_all_beams:
            return sequences, scores
        return sequences[:, 0], scores[:, 0]

    def get_config(self):
        config = super().get_config()
        config.update({"num_beams": self.num_beams, "alpha": self.alpha,
                       "return_all_beams": self.return_all_beams})
        return config
