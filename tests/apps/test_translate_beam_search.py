"""Length-normalised beam search against brute force on a toy model.

The toy's next-token distribution depends on the position and the previous
token only (a table of logits), so every sequence's probability is known and
brute-force enumeration ranks every possible output.
"""

import itertools

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.translate.beam_search import LengthNormalizedBeamSampler

VOCABULARY, END, LENGTH, INDEX = 4, 3, 5, 1  # up to 4 new tokens after a start token at 0


def toy_next(table):
    table = tf.constant(table)

    def next(prompt, cache, index):
        previous = tf.gather(prompt, index - 1, axis=1)
        return tf.gather(tf.gather(table, index), previous), None, cache

    return next


def random_table(seed):
    table = np.random.default_rng(seed).normal(0.0, 1.5, (LENGTH, VOCABULARY, VOCABULARY))
    table[:, :, END] -= 1.0  # fewer very short outputs
    return table.astype("float32")


def log_softmax(row):
    row = row.astype("float64")
    return row - np.log(np.exp(row).sum())


def brute_force(table, alpha, first=0):
    """``(score, tokens)`` of the best output: every sequence of non-end
    tokens ending with the end token, or running to the length limit."""
    best, room = None, LENGTH - INDEX
    for count in range(room + 1):
        for body in itertools.product([t for t in range(VOCABULARY) if t != END], repeat=count):
            for tokens in ([list(body) + [END]] if count < room else []) + (
                    [list(body)] if count == room else []):
                previous, total = first, 0.0
                for position, token in enumerate(tokens, start=INDEX):
                    total += log_softmax(table[position, previous])[token]
                    previous = token
                score = total / len(tokens) ** alpha
                if best is None or score > best[0]:
                    best = (score, tokens)
    return best


def until_end(row):
    row = [int(t) for t in row[INDEX:]]
    return row[:row.index(END) + 1] if END in row else row


def search(table, beams, alpha, prompt=None, **kwargs):
    prompt = tf.zeros([1, LENGTH], tf.int32) if prompt is None else prompt
    sampler = LengthNormalizedBeamSampler(num_beams=beams, alpha=alpha, **kwargs)
    return sampler(toy_next(table), prompt, index=INDEX, stop_token_ids=[END])


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.7, 1.0, 2.0])
def test_a_wide_beam_finds_what_brute_force_ranks_first(alpha):
    for seed in range(6):
        table = random_table(seed)
        ids, scores = search(table, 128, alpha)  # wider than every hypothesis there is
        score, tokens = brute_force(table, alpha)
        assert until_end(ids.numpy()[0]) == tokens, (seed, alpha)
        assert scores.numpy()[0] == pytest.approx(score, abs=1e-4)


def test_alpha_changes_the_ranking_where_it_should():
    # After the start token: END at 0.5, else "1" at 0.5; after "1" the
    # continuation "1 2 END" is likely: 0.5 * 0.9 * 0.9 = 0.405 in 3 tokens
    # against 0.5 in 1. Raw log-probability (alpha 0) takes the short one; the
    # mean per token (alpha 1) the long one.
    table = np.full((LENGTH, VOCABULARY, VOCABULARY), -30.0, "float32")
    table[1, 0, END] = table[1, 0, 1] = 0.0
    table[2, 1, 2] = np.log(0.9)
    table[2, 1, 0] = np.log(0.1)
    table[3, 2, END] = np.log(0.9)
    table[3, 2, 0] = np.log(0.1)
    for position in range(LENGTH):
        table[position, :, :] -= np.log(np.exp(table[position]).sum(-1, keepdims=True))
    # Crossover: 3^alpha = log 0.405 / log 0.5, alpha = 0.24.
    for alpha, expected in ((0.0, [END]), (0.2, [END]), (0.3, [1, 2, END]), (1.0, [1, 2, END])):
        ids, _ = search(table, 3, alpha)
        assert until_end(ids.numpy()[0]) == expected == brute_force(table, alpha)[1], alpha


def full_vocabulary_beam_search(table, beams, alpha, first, end):
    """The search as the curriculum states it, in numpy: every alive slot
    proposes all ``V`` extensions, a finished one itself; the best ``beams``
    by ``sum log P / T^alpha`` go on. ``[(score, tokens)]``, best first."""
    length, vocabulary = table.shape[0], table.shape[-1]
    slots = [(0.0, [], False)]
    for position in range(INDEX, length):
        proposals = []
        for total, tokens, done in slots:
            if done:
                proposals.append((total, tokens, True))
                continue
            row = log_softmax(table[position, tokens[-1] if tokens else first])
            proposals += [(total + row[t], tokens + [t], t == end) for t in range(vocabulary)]
        proposals.sort(key=lambda p: -p[0] / max(len(p[1]), 1) ** alpha)
        slots = proposals[:beams]
        if all(done for _, _, done in slots):
            break
    return [(total / max(len(tokens), 1) ** alpha, tokens) for total, tokens, _ in slots]


@pytest.mark.parametrize("beams", [2, 5])
def test_every_beam_equals_a_search_over_the_whole_vocabulary(beams):
    # The sampler ranks only each slot's best `beams` tokens; with 40 tokens
    # and 6 steps that prunes, and must lose nothing.
    vocabulary, length, end = 40, 7, 39
    for seed in range(4):
        table = np.random.default_rng(seed).normal(0.0, 2.0, (length, vocabulary, vocabulary))
        table[:, :, end] -= 2.0
        table = table.astype("float32")
        prompt = tf.zeros([1, length], tf.int32)
        for alpha in (0.0, 0.7):
            sampler = LengthNormalizedBeamSampler(num_beams=beams, alpha=alpha,
                                                  return_all_beams=True)
            ids, scores = sampler(toy_next(table), prompt, index=INDEX, stop_token_ids=[end])
            expected = full_vocabulary_beam_search(table, beams, alpha, first=0, end=end)
            for row, score, (want_score, want_tokens) in zip(ids.numpy()[0], scores.numpy()[0],
                                                             expected):
                found = [int(t) for t in row[INDEX:]]
                found = found[:found.index(end) + 1] if end in found else found
                assert found == want_tokens, (seed, alpha)
                assert score == pytest.approx(want_score, abs=1e-4)


def test_one_beam_is_keras_hubs_greedy_search():
    greedy = keras_hub.samplers.GreedySampler()
    for seed in range(10):
        table = random_table(seed)
        prompt = tf.constant([[0] * LENGTH, [1] + [0] * (LENGTH - 1), [2] + [0] * (LENGTH - 1)])
        expected = greedy(toy_next(table), prompt, index=INDEX, stop_token_ids=[END]).numpy()
        for alpha in (0.0, 0.7):
            ids, _ = search(table, 1, alpha, prompt=prompt)
            for row, want in zip(ids.numpy(), expected):
                assert until_end(row) == until_end(want), (seed, alpha)


def test_compiled_with_tensor_width_equals_eager_and_returns_sorted_beams():
    table = random_table(11)
    prompt = tf.constant([[0] * LENGTH, [2] + [0] * (LENGTH - 1)])

    @tf.function(input_signature=[tf.TensorSpec([None, LENGTH], tf.int32),
                                  tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)])
    def compiled(prompt, beams, alpha):
        return LengthNormalizedBeamSampler(num_beams=beams, alpha=alpha, return_all_beams=True)(
            toy_next(table), prompt, index=INDEX, stop_token_ids=[END])

    for beams in (1, 3, 6):
        graph_ids, graph_scores = compiled(prompt, tf.constant(beams), tf.constant(0.7))
        eager_ids, eager_scores = search(table, beams, 0.7, prompt=prompt, return_all_beams=True)
        assert graph_ids.shape == (2, beams, LENGTH)
        np.testing.assert_array_equal(graph_ids.numpy(), eager_ids.numpy())
        np.testing.assert_allclose(graph_scores.numpy(), eager_scores.numpy(), rtol=1e-6)
        assert np.all(np.diff(graph_scores.numpy(), axis=1) <= 0), "best first"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_beams must be >= 1"):
        LengthNormalizedBeamSampler(num_beams=0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        LengthNormalizedBeamSampler(alpha=-0.5)
    with pytest.raises(ValueError, match="needs stop_token_ids"):
        LengthNormalizedBeamSampler()(toy_next(random_table(0)), tf.zeros([1, LENGTH], tf.int32))
    assert LengthNormalizedBeamSampler(num_beams=3, alpha=0.6).get_config() == {
        "temperature": 1.0, "num_beams": 3, "alpha": 0.6, "return_all_beams": False}
