"""Fixtures for the data tests: tiny fake data sets written to ``tmp_path``."""

import numpy as np
import pytest

from dlsuite.apps.data import idx, sources


def _write_fake_idx_set(directory, fill_value, image_size=(6, 6), per_class=(3, 1)):
    """Write the four Fashion-MNIST/MNIST IDX .gz files into ``directory``.

    Every image is filled with ``fill_value`` so a test can tell which copy
    was read; ``per_class`` = examples per class in (train, t10k).
    Returns the number of examples written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, count in zip(("train", "t10k"), per_class):
        labels = np.repeat(np.arange(10, dtype=np.uint8), count)
        images = np.full((len(labels), *image_size), fill_value, dtype=np.uint8)
        idx.write_idx(str(directory / f"{prefix}-images-idx3-ubyte.gz"), images)
        idx.write_idx(str(directory / f"{prefix}-labels-idx1-ubyte.gz"), labels)
    return 10 * sum(per_class)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide fixture of the same name for tests/data.

    These tests build no model and set no dtype policy, and the suite-wide
    ``keras.utils.clear_session()`` (a garbage collection, ~0.4 s) before
    each of them would be most of this folder's run time.
    """
    yield


@pytest.fixture
def isolated_sources(tmp_path, monkeypatch):
    """An empty Keras cache and no Debian package: only what a test writes."""
    keras_home = tmp_path / "keras_home"
    (keras_home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "no_debian_package"))
    return keras_home


@pytest.fixture
def write_fake_idx_set():
    """The function that writes a fake IDX set (see ``_write_fake_idx_set``)."""
    return _write_fake_idx_set
