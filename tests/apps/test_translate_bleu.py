"""keras-hub's Bleu (the in-training metric) against sacreBLEU (the reported
figure): where they agree, and where and by how much they differ."""

import math

import keras_hub
import numpy as np
import pytest
import sacrebleu

from dlsuite.apps.translate import bleu

HYPOTHESES = ["the cat sat on the mat today", "a quick brown fox jumps over the dog",
              "hello world, how are you?", "Saisissez une adresse de courriel valide."]
REFERENCES = ["the cat sat on the mat", "the quick brown fox jumps over the lazy dog",
              "hello world, how are you doing?", "Saisissez une adresse électronique valide."]


def keras_hub_score(hypotheses, references_per_sentence):
    metric = keras_hub.metrics.Bleu()
    metric.update_state(np.array(references_per_sentence, dtype=object),
                        np.array(hypotheses, dtype=object))
    return float(metric.result()) * 100


def test_one_reference_they_agree():
    sacre = bleu.corpus_bleu(HYPOTHESES, REFERENCES)
    assert sacre == pytest.approx(sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score)
    assert 30 < sacre < 90
    assert bleu.keras_hub_bleu(HYPOTHESES, REFERENCES) == pytest.approx(sacre, abs=1e-3)
    assert bleu.corpus_bleu(REFERENCES, REFERENCES) == pytest.approx(100.0)
    assert bleu.keras_hub_bleu([""] * 4, REFERENCES) == 0.0


def test_several_references_brevity_penalty_differs():
    # One sentence, two references of 4 and 9 words; the hypothesis has 8.
    # sacreBLEU takes the closest reference length (9): BP = exp(1 - 9/8);
    # keras-hub the shortest (4): no penalty. The n-gram precisions are shared.
    hypothesis = ["the quick brown fox jumps over the dog"]
    references = [["a fast fox jumps", "the quick brown fox jumps over the lazy dog"]]
    streams = [[references[0][0]], [references[0][1]]]  # sacreBLEU: one list per reference
    sacre = sacrebleu.corpus_bleu(hypothesis, streams).score
    ours = keras_hub_score(hypothesis, references)
    assert sacre < ours
    assert sacre / ours == pytest.approx(math.exp(1 - 9 / 8), rel=1e-4)


def test_an_order_without_matches_keras_hub_zero_sacrebleu_smoothed():
    # No 4-gram of the hypothesis is in the reference anywhere in the corpus.
    hypothesis, reference = ["the cat sat on mat"], ["the cat sat down on the mat"]
    assert keras_hub_score(hypothesis, [reference]) == 0.0
    smoothed = sacrebleu.corpus_bleu(hypothesis, [reference]).score
    assert smoothed > 10
    # Without smoothing they agree again.
    assert sacrebleu.corpus_bleu(hypothesis, [reference], smooth_method="none").score == 0.0


def test_sentence_scores_and_exact_match():
    scores = bleu.sentence_bleus(HYPOTHESES, REFERENCES)
    assert len(scores) == 4 and all(0 <= s <= 100 for s in scores)
    assert bleu.sentence_bleus(["a b c d"], ["a b c d"]) == [pytest.approx(100.0)]
    assert bleu.exact_match(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert bleu.as_text(np.array([b"caf\xc3\xa9", b"x"], dtype=object)) == ["café", "x"]
