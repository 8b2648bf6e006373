"""Labelled series: sktime's bundled .ts files and the user's CSV."""

import numpy as np
import pytest

from dlsuite.apps.data import sequences
from dlsuite.apps.errors import UsageError


def test_japanese_vowels_keeps_the_archive_test_set_and_pads_with_nan():
    data = sequences.load_sequences("japanese_vowels", seed=1)
    assert data.x_test.shape == (370, 29, 12)
    assert data.split["sizes"] == {"train": 216, "dev": 54, "test": 370}
    assert data.class_names == [str(i) for i in range(1, 10)]
    assert 7 == min(data.lengths_train.min(), data.lengths_test.min())
    for x, lengths in ((data.x_train, data.lengths_train), (data.x_test, data.lengths_test)):
        for row, length in zip(x, lengths):
            assert np.isfinite(row[:length]).all() and np.isnan(row[length:]).all()
    # Every speaker is in dev (stratified).
    assert set(data.y_dev) == set(range(9))


def test_gunpoint_is_univariate_equal_length():
    data = sequences.load_sequences("gunpoint", seed=1)
    assert data.x_train.shape == (40, 150, 1) and data.x_test.shape == (150, 150, 1)
    assert (data.lengths_test == 150).all() and not np.isnan(data.x_train).any()


def test_ts_reader_against_a_written_file(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text("# comment\n@problemName toy\n@classLabel true a b\n@data\n"
                    "1,2,3:4,5,6:a\n7,8:9,10:b\n")
    series, labels, classes = sequences.read_ts(str(path))
    assert classes == ("a", "b") and labels == ("a", "b")
    np.testing.assert_array_equal(series[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(series[1], [[7, 9], [8, 10]])
    bad = tmp_path / "bad.ts"
    bad.write_text("@classLabel true a\n@data\n1,2:3:a\n")
    with pytest.raises(UsageError, match="same length"):
        sequences.read_ts(str(bad))


def test_wide_csv_with_varying_lengths(tmp_path):
    path = tmp_path / "series.csv"
    rows = [f"{'up' if i % 2 else 'down'}," + ",".join(str(v) for v in range(3 + i % 4))
            for i in range(30)]
    path.write_text("label,t0,t1,t2,t3,t4,t5\n" + "\n".join(rows) + "\n")
    data = sequences.load_sequences("csv", data_dir=str(path), seed=0)
    assert data.class_names == ["down", "up"]
    assert data.split["sizes"] == {"train": 24, "dev": 3, "test": 3}
    assert data.x_train.shape[1:] == (6, 1)
    assert set(data.lengths_train) <= {3, 4, 5, 6}


def test_long_csv_multivariate(tmp_path):
    path = tmp_path / "long.csv"
    lines = ["series,label,a,b"]
    for s in range(20):
        for t in range(2 + s % 3):
            lines.append(f"s{s},{'x' if s % 2 else 'y'},{t},{-t}")
    path.write_text("\n".join(lines) + "\n")
    data = sequences.load_sequences("csv", data_dir=str(path), seed=0)
    assert data.x_train.shape[1:] == (4, 2) and len(data.class_names) == 2
    row, length = data.x_train[0], data.lengths_train[0]
    np.testing.assert_array_equal(row[:length, 1], -row[:length, 0])


@pytest.mark.parametrize("content, message", [
    ("label,a\nx,1\nx,2\n", "two or more"),
    ("label,a,b\nx,1,oops\ny,2,3\n", "not a finite number"),
    ("label,a,b\nx,,1\ny,2,3\n", "empty cells only at the end"),
])
def test_bad_csv_files_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        sequences.load_sequences("csv", data_dir=str(path))


def test_missing_sktime_names_what_to_install(monkeypatch):
    monkeypatch.setattr(sequences, "package_dir", lambda name: None)
    with pytest.raises(UsageError, match="pip install --no-deps 'sktime==1.2.0'"):
        sequences.load_sequences("gunpoint")
