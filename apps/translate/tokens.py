"""Reversible tokenization and the vocabularies of the translation model.

Two tokenizers, both plain ``tf.strings`` graphs (no state: the vocabularies
are the model's ``StringLookup`` layers), so the training pipeline and the
exported ``translate`` signature cut text the same way:

* ``word``: a placeholder (``%s``, ``%(name)s``, ``%-10lu``, ``{0}``), a run of
  letters, digits and combining marks, or any other single character, each
  carrying the space before it as a leading ``▁`` (U+2581, SentencePiece's
  mark)::

      "Saisissez une URL valide." -> ["Saisissez", "▁une", "▁URL", "▁valide", "."]

  so that :func:`detokenize` gives the text back exactly (white space runs
  collapsed to one space): BLEU is then measured on the model's own text,
  with punctuation where the model put it. keras-hub's WordPiece and
  byte-pair tokenizers lose that spacing ("valide ." comes back), and
  ``TextVectorization``'s split drops punctuation or keeps it glued to words.
* ``char``: one token per character (the dates corpus).

A literal ``▁`` in the input is read as a space.
"""

import collections

import numpy as np
import tensorflow as tf

MODES = ("word", "char")
SPACE = "\u2581"
PAD, UNKNOWN, START, END = "", "[UNK]", "[START]", "[END]"
# Ids fixed by StringLookup(mask_token="", oov_token="[UNK]") over [START, END, ...].
PAD_ID, UNKNOWN_ID, START_ID, END_ID = 0, 1, 2, 3
PLACEHOLDER = (r"%(?:\([A-Za-z0-9_.]+\))?(?:[0-9]+\$)?[-+#0]*[0-9*]*(?:\.[0-9*]+)?"
               r"(?:hh|ll|[hlLqjzt])?[A-Za-z%]|\{[A-Za-z0-9_.:]*\}")
WORD = r"[\pL\pN\pM]+"
_TOKEN = f"({SPACE}?(?:{PLACEHOLDER}|{WORD}|.))"


def normalize(texts):
    """Every run of white space (Unicode's too) -> one space, stripped."""
    texts = tf.strings.regex_replace(texts, SPACE, " ")
    texts = tf.strings.regex_replace(texts, r"[\s\p{Z}]+", " ")
    return tf.strings.strip(texts)


def tokenize(texts, mode):
    """``(batch,)`` strings -> ``(batch, None)`` ragged token strings."""
    texts = normalize(tf.convert_to_tensor(texts, tf.string))
    if mode == "char":
        return tf.strings.unicode_split(texts, "UTF-8")
    if mode != "word":
        raise ValueError(f"mode must be one of {MODES}. Received: mode={mode!r}")
    marked = tf.strings.regex_replace(texts, " ", SPACE)
    spaced = tf.strings.regex_replace(marked, _TOKEN, r"\1 ")
    return tf.strings.split(spaced, " ")[:, :-1]


def detokenize(tokens, mode):
    """``(batch, steps)`` token strings (``""`` padding) -> ``(batch,)`` texts."""
    joined = tf.strings.reduce_join(tokens, axis=-1)
    if mode == "word":
        joined = tf.strings.strip(tf.strings.regex_replace(joined, SPACE, " "))
    return joined


def token_lists(texts, mode, chunk=4096):
    """Python lists of ``str`` tokens of every text (for vocabularies)."""
    found = []
    texts = np.asarray(texts, dtype=object)
    for start in range(0, len(texts), chunk):
        ragged = tokenize(tf.constant(texts[start:start + chunk].astype(str)), mode)
        found += [[token.decode("utf-8") for token in row] for row in ragged.to_list()]
    return found


def build_vocabulary(lists, max_size=None, min_count=1, reserved=()):
    """``reserved`` then the tokens seen ``min_count`` times or more, most
    frequent first (ties by token), ``max_size`` entries at most (reserved
    included). The StringLookup's mask ``""`` and ``[UNK]`` come before it."""
    counts = collections.Counter(token for tokens in lists for token in tokens)
    ranked = sorted((token for token, n in counts.items()
                     if n >= min_count and token not in reserved and token not in (PAD, UNKNOWN)),
                    key=lambda token: (-counts[token], token))
    vocabulary = list(reserved) + ranked
    return vocabulary[:max_size] if max_size else vocabulary


def coverage(lists, vocabulary):
    """The share of tokens of ``lists`` that ``vocabulary`` holds."""
    known = set(vocabulary)
    total = sum(len(tokens) for tokens in lists)
    return sum(token in known for tokens in lists for token in tokens) / max(total, 1)
