"""The translate app's tokenizers give the text back, and its vocabularies."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.data import parallel
from dlsuite.apps.translate import tokens as tok

TEXTS = [
    "Saisissez une URL valide.",
    "  Enter a  valid “slug” %(limit_value)s, %-10lu {0} n’est-ce pas?",
    "Dienstag, 3. März 1998",
    "quatre-vingt-dix-neuf",
    "%13lu CPU context switches\u00a0!",
    "ꙮꙮ ꙮ",
    "",
    "tabs\tand\nnewlines",
]


def _decoded(tensor):
    return [t.decode("utf-8") for t in tensor.numpy()]


@pytest.mark.parametrize("mode", tok.MODES)
def test_detokenize_gives_the_normalised_text_back(mode):
    pairs, _ = parallel.read_catalogs("django")
    texts = TEXTS + [text for pair in pairs for text in pair]
    ragged = tok.tokenize(tf.constant(texts), mode)
    back = _decoded(tok.detokenize(ragged.to_tensor(default_value=""), mode))
    assert back == _decoded(tok.normalize(tf.constant(texts)))
    assert back[1] == "Enter a valid “slug” %(limit_value)s, %-10lu {0} n’est-ce pas?"
    assert back[7] == "tabs and newlines"


def test_word_tokens_keep_placeholders_whole_and_carry_the_space_before():
    rows = tok.tokenize(tf.constant(TEXTS[:5]), "word").to_list()
    words = [[t.decode("utf-8") for t in row] for row in rows]
    assert words[0] == ["Saisissez", "▁une", "▁URL", "▁valide", "."]
    assert "▁%(limit_value)s" in words[1] and "▁%-10lu" in words[1] and "▁{0}" in words[1]
    assert words[2] == ["Dienstag", ",", "▁3", ".", "▁März", "▁1998"]
    assert words[3] == ["quatre", "-", "vingt", "-", "dix", "-", "neuf"]
    assert words[4][0] == "%13lu" and words[4][-1] == "▁!"
    assert tok.tokenize(tf.constant([""]), "word").row_lengths().numpy().tolist() == [0]


def test_char_tokens_are_characters():
    rows = tok.tokenize(tf.constant(["3 mars", "ꙮ"]), "char").to_list()
    assert [[t.decode("utf-8") for t in row] for row in rows] == [
        ["3", " ", "m", "a", "r", "s"], ["ꙮ"]]
    with pytest.raises(ValueError, match="mode must be one of"):
        tok.tokenize(tf.constant(["x"]), "bytes")


def test_vocabulary_is_by_frequency_with_reserved_tokens_first():
    lists = [["b", "a", "a"], ["c", "a", "b"], ["d"]]
    assert tok.build_vocabulary(lists) == ["a", "b", "c", "d"]
    assert tok.build_vocabulary(lists, min_count=2) == ["a", "b"]
    assert tok.build_vocabulary(lists, max_size=4, reserved=(tok.START, tok.END)) == [
        tok.START, tok.END, "a", "b"]
    assert tok.coverage(lists, ["a", "b"]) == pytest.approx(5 / 7)
    assert tok.token_lists(np.array(["a b", ""], dtype=object), "word") == [["a", "▁b"], []]
