"""Fashion-MNIST sources and their precedence (apps/data/sources.py)."""

import os

import numpy as np
import pytest

from dlsuite.apps.data import load, sources
from dlsuite.apps.errors import UsageError

OFFICIAL_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def test_data_dir_idx_files(tmp_path, isolated_sources, write_fake_idx_set):
    total = write_fake_idx_set(tmp_path / "mine", fill_value=11)
    data = load(
        "fashion_mnist", data_dir=str(tmp_path / "mine"), dev_fraction=0.1, test_fraction=0.1
    )
    assert data.class_names == OFFICIAL_NAMES
    assert data.split["total"] == total == 40
    assert data.split["sizes"] == {"train": 32, "dev": 4, "test": 4}
    assert data.x_train.shape == (32, 6, 6, 1) and data.x_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64
    assert (data.x_train == 11).all()
    assert "your IDX files" in data.source and "mine" in data.source


def test_keras_cache_honours_keras_home(tmp_path, isolated_sources, write_fake_idx_set):
    write_fake_idx_set(isolated_sources / "datasets" / "fashion-mnist", fill_value=22)
    data = load("fashion_mnist")
    assert (data.x_train == 22).all()
    assert data.source.startswith("Keras cache")
    assert str(isolated_sources) in data.source


def test_data_dir_beats_keras_cache(tmp_path, isolated_sources, write_fake_idx_set):
    write_fake_idx_set(isolated_sources / "datasets" / "fashion-mnist", fill_value=22)
    write_fake_idx_set(tmp_path / "mine", fill_value=11)
    data = load("fashion_mnist", data_dir=str(tmp_path / "mine"))
    assert (data.x_train == 11).all()


def test_keras_cache_beats_debian_package(
    tmp_path, isolated_sources, monkeypatch, write_fake_idx_set
):
    write_fake_idx_set(tmp_path / "debian", fill_value=33)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    data = load("fashion_mnist")
    assert (data.x_train == 33).all()
    assert data.source == f"Debian package dataset-fashion-mnist ({tmp_path / 'debian'})"

    write_fake_idx_set(isolated_sources / "datasets" / "fashion-mnist", fill_value=22)
    assert (load("fashion_mnist").x_train == 22).all()


def test_partial_keras_cache_falls_through(
    tmp_path, isolated_sources, monkeypatch, write_fake_idx_set
):
    cache = isolated_sources / "datasets" / "fashion-mnist"
    write_fake_idx_set(cache, fill_value=22)
    os.remove(cache / "t10k-labels-idx1-ubyte.gz")  # an interrupted download
    write_fake_idx_set(tmp_path / "debian", fill_value=33)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    assert (load("fashion_mnist").x_train == 33).all()


def test_missing_source_says_what_to_install(isolated_sources):
    with pytest.raises(UsageError, match="dataset-fashion-mnist") as error:
        load("fashion_mnist")
    message = str(error.value)
    assert "apt-get install" in message and "data_dir" in message and "\n" not in message


def test_corrupt_gzip_names_the_file(tmp_path, isolated_sources, write_fake_idx_set):
    write_fake_idx_set(tmp_path / "mine", fill_value=11)
    path = tmp_path / "mine" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz"):
        load("fashion_mnist", data_dir=str(tmp_path / "mine"))


def test_wrong_magic_number(tmp_path, isolated_sources, write_fake_idx_set):
    mine = tmp_path / "mine"
    write_fake_idx_set(mine, fill_value=11)
    # A labels file where the images should be.
    labels_bytes = (mine / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (mine / "t10k-images-idx3-ubyte.gz").write_bytes(labels_bytes)
    with pytest.raises(UsageError, match="t10k-images-idx3-ubyte.gz.*magic number"):
        load("fashion_mnist", data_dir=str(mine))


def test_incomplete_data_dir_lists_missing_files(tmp_path, isolated_sources, write_fake_idx_set):
    write_fake_idx_set(tmp_path / "mine", fill_value=11)
    os.remove(tmp_path / "mine" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(UsageError, match="missing train-labels-idx1-ubyte.gz"):
        load("fashion_mnist", data_dir=str(tmp_path / "mine"))


def test_data_dir_that_does_not_exist(tmp_path, isolated_sources):
    with pytest.raises(UsageError, match="data_dir not found"):
        load("fashion_mnist", data_dir=str(tmp_path / "nowhere"))


def test_empty_data_dir_says_what_was_expected(tmp_path, isolated_sources):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz"):
        load("fashion_mnist", data_dir=str(tmp_path / "empty"))


def test_labels_out_of_range_are_corrupt(tmp_path, isolated_sources, write_fake_idx_set):
    from dlsuite.apps.data import idx

    mine = tmp_path / "mine"
    write_fake_idx_set(mine, fill_value=11)
    idx.write_idx(str(mine / "t10k-labels-idx1-ubyte.gz"), np.full(10, 12, dtype=np.uint8))
    with pytest.raises(UsageError, match="t10k-labels-idx1-ubyte.gz.*out of range"):
        load("fashion_mnist", data_dir=str(mine))


def test_rewritten_files_are_read_again(tmp_path, isolated_sources, write_fake_idx_set):
    mine = tmp_path / "mine"
    write_fake_idx_set(mine, fill_value=11)
    assert (load("fashion_mnist", data_dir=str(mine)).x_train == 11).all()
    write_fake_idx_set(mine, fill_value=44, per_class=(4, 1))
    data = load("fashion_mnist", data_dir=str(mine))
    assert (data.x_train == 44).all() and data.split["total"] == 50


@pytest.mark.skipif(
    not os.path.isdir(sources.DEBIAN_FASHION_MNIST_DIR),
    reason="Debian package dataset-fashion-mnist is not installed",
)
def test_real_debian_package(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cache in the way
    data = load("fashion_mnist", limit=2000)
    assert data.source.startswith("Debian package dataset-fashion-mnist")
    assert data.x_train.shape[1:] == (28, 28, 1)
    assert data.split["total"] == 2000
    assert sorted(np.unique(data.y_test)) == list(range(10))


def test_auto_takes_fashion_mnist_when_installed_else_mnist5k(
        isolated_sources, write_fake_idx_set):
    data = load("auto", limit=100)
    assert data.name == "mnist5k" and "Fashion-MNIST is not installed" in data.source
    assert "make data" in data.source
    write_fake_idx_set(isolated_sources / "datasets" / "fashion-mnist", fill_value=5)
    data = load("auto")
    assert data.name == "fashion_mnist" and (data.x_train == 5).all()
    assert "dataset=auto: Fashion-MNIST is installed" in data.source


def test_an_explicit_fashion_mnist_still_fails_clearly_when_missing(isolated_sources):
    with pytest.raises(UsageError, match="Fashion-MNIST not found: install the Debian package"):
        load("fashion_mnist")
