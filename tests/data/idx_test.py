"""The IDX reader (apps/data/idx.py)."""

import gzip

import numpy as np
import pytest

from dlsuite.apps.data import idx
from dlsuite.apps.errors import UsageError


@pytest.mark.parametrize("file_name", ["images-idx3-ubyte.gz", "images-idx3-ubyte"])
def test_round_trip(tmp_path, file_name):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / file_name)
    idx.write_idx(path, images)
    read = idx.read_idx(path, expected_ndim=3)
    assert read.dtype == np.uint8
    np.testing.assert_array_equal(read, images)


def test_header_is_the_published_format(tmp_path):
    path = str(tmp_path / "labels-idx1-ubyte.gz")
    idx.write_idx(path, np.array([7, 1, 2], dtype=np.uint8))
    with gzip.open(path, "rb") as handle:
        content = handle.read()
    assert content == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 2])


def test_wrong_magic_names_the_file(tmp_path):
    path = str(tmp_path / "labels-idx1-ubyte.gz")
    idx.write_idx(path, np.zeros(4, dtype=np.uint8))
    with pytest.raises(UsageError, match="labels-idx1-ubyte.gz.*magic") as error:
        idx.read_idx(path, expected_ndim=3)
    assert "0x00000801" in str(error.value) and "0x00000803" in str(error.value)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    idx.write_idx(str(path), np.zeros((10, 8, 8), dtype=np.uint8))
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(UsageError, match="images-idx3-ubyte.gz"):
        idx.read_idx(str(path), expected_ndim=3)


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(UsageError, match="Corrupt or truncated file .*images-idx3-ubyte.gz"):
        idx.read_idx(str(path), expected_ndim=3)


def test_size_disagreeing_with_header(tmp_path):
    path = tmp_path / "images-idx3-ubyte"
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (2, 3, 3))
    path.write_bytes(header + bytes(17))  # 18 declared
    with pytest.raises(UsageError, match="header declares shape"):
        idx.read_idx(str(path), expected_ndim=3)


def test_find_idx_files_prefers_gzip(tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"")
    found = idx.find_idx_files(str(tmp_path))
    assert found == {
        "train_images": str(tmp_path / "train-images-idx3-ubyte.gz"),
        "test_labels": str(tmp_path / "t10k-labels-idx1-ubyte"),
    }
