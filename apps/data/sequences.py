"""Labelled time series (multivariate, of equal or varying length).

Sources, best first (DESIGN.md section 5):

1. the user's CSV of series, ``data_dir=FILE.csv`` (data set ``csv``), in
   one of two layouts:

   - wide: one univariate series per row, ``label,v1,v2,...``; rows may
     end early (empty cells), so series can differ in length;
   - long: a header with columns ``series`` and ``label`` and one column per
     feature, one row per time step, rows of a series in time order.

2. the UCR/UEA ``.ts`` files bundled with PyPI ``sktime`` 1.2.0
   (``sktime/datasets/data/``): JapaneseVowels (640 series of 7-29 steps,
   12 LPC cepstrum coefficients, 9 speakers) and GunPoint (200 univariate
   series of 150 steps, 2 classes). sktime 1.2.0 would move the shared
   environment's pandas 3.1 back to 3.0, so it installs with ``--no-deps``
   (``make install`` does) and is never imported: :func:`read_ts` reads its
   files (the documented ``.ts`` format: ``@`` header lines, then one
   series per line, dimensions separated by ``:``, values by ``,``, the
   class label last).

Series of different lengths are padded at the end with NaN to the longest
(sktime's own convention for unequal-length panels): ``dlsuite.layers.NaNMasking``
turns the padding into a Keras mask, so a recurrent layer skips it instead
of reading zeros, and the exports take ``(series, lengths)``. The
JapaneseVowels and GunPoint splits keep the archive's own test set (the one
published accuracies are measured on) and draw dev from its train part,
stratified and seeded; a CSV is pooled and split 80/10/10.
"""

import csv
import dataclasses
import functools
import os

import numpy as np

from dlsuite.apps.data import splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.data.text import package_dir
from dlsuite.apps.errors import UsageError

DATASETS = ("japanese_vowels", "gunpoint", "csv")
TS_PROBLEMS = {"japanese_vowels": "JapaneseVowels", "gunpoint": "GunPoint"}
SKTIME_HINT = ("install the PyPI package `sktime` without its dependencies (they would change "
               "pandas): pip install --no-deps 'sktime==1.2.0' (make install does), or pass "
               "--set dataset=csv --set data_dir=FILE.csv")
CSV_LAYOUTS = ("wide: label,v1,v2,... one univariate series per row; or long: a header with "
               "`series`, `label` and feature columns, one row per time step")
# The share of an archive's train part kept for dev when none is given.
DEFAULT_DEV_FRACTION = 0.2


@dataclasses.dataclass
class SequenceSplits(DataSplits):
    """:class:`DataSplits` of series: ``x_*`` are float32 ``(N, steps,
    features)`` padded with NaN after each series' end; ``lengths_*`` int32
    ``(N,)`` are the true lengths."""

    lengths_train: np.ndarray = None
    lengths_dev: np.ndarray = None
    lengths_test: np.ndarray = None


def pad_series(series, steps=None):
    """A list of ``(length_i, features)`` arrays -> ``(x, lengths)``: float32
    ``(N, steps, features)`` NaN-padded (``steps`` = the longest if None)."""
    lengths = np.array([len(s) for s in series], dtype=np.int32)
    steps = int(lengths.max()) if steps is None else steps
    features = series[0].shape[1]
    x = np.full((len(series), steps, features), np.nan, dtype=np.float32)
    for index, values in enumerate(series):
        x[index, :len(values)] = values
    return x, lengths


def _parse_ts_line(line, path, number):
    *dimensions, label = line.split(":")
    try:
        columns = [np.array([float(v) for v in d.split(",")], dtype=np.float32)
                   for d in dimensions]
    except ValueError:
        raise UsageError(f"{path}:{number}: expected numbers separated by ',' in each "
                         "':'-separated dimension, then the label") from None
    if not columns or len({len(c) for c in columns}) != 1:
        raise UsageError(f"{path}:{number}: every dimension of a series must have the same "
                         "length")
    return np.stack(columns, axis=1), label.strip()


@functools.lru_cache(maxsize=8)
def read_ts(path):
    """Read a ``.ts`` file: ``(series, labels, class_labels)``.

    ``series`` is a tuple of float32 ``(length, dimensions)`` arrays,
    ``labels`` the label strings, ``class_labels`` the ``@classLabel``
    header's list. Missing values (``?``) are not supported.
    """
    series, labels, class_labels, in_data = [], [], None, False
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                lowered = line.lower()
                if lowered.startswith("@classlabel"):
                    parts = line.split()
                    class_labels = parts[2:] if len(parts) > 2 and parts[1] == "true" else None
                elif lowered.startswith("@data"):
                    in_data = True
                continue
            if "?" in line:
                raise UsageError(f"{path}:{number}: missing values ('?') are not supported")
            values, label = _parse_ts_line(line, path, number)
            series.append(values)
            labels.append(label)
    if not series or class_labels is None:
        raise UsageError(f"{path} is not a labelled .ts file (no @classLabel header or no data)")
    return tuple(series), tuple(labels), tuple(class_labels)


def sktime_problem_files(problem):
    """The ``(train, test)`` ``.ts`` paths of a problem bundled with sktime."""
    root = package_dir("sktime")
    folder = root / "datasets" / "data" / problem if root else None
    paths = [folder / f"{problem}_{part}.ts" for part in ("TRAIN", "TEST")] if folder else []
    if not paths or not all(path.is_file() for path in paths):
        raise UsageError(f"{problem} not found: {SKTIME_HINT}.")
    return paths


def _float_or_none(text):
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(text) from None
    if not np.isfinite(value):
        raise ValueError(text)
    return value


def read_series_csv(path):
    """``(series, labels)`` from the user's CSV (see the module docstring)."""
    if not os.path.isfile(path):
        raise UsageError(f"CSV file not found: {path}. Expected data_dir=FILE.csv, "
                         f"{CSV_LAYOUTS}")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    if not rows:
        raise UsageError(f"{path} is empty; expected {CSV_LAYOUTS}")
    header = [cell.strip().lower() for cell in rows[0]]
    series, labels = [], []
    try:
        if "series" in header and "label" in header:
            key, label_at = header.index("series"), header.index("label")
            features = [i for i in range(len(header)) if i not in (key, label_at)]
            if not features:
                raise UsageError(f"{path} has no feature columns beside series and label")
            grouped = {}
            for number, row in enumerate(rows[1:], start=2):
                values = [_float_or_none(row[i]) if i < len(row) else None for i in features]
                if None in values:
                    raise UsageError(f"{path}:{number}: every feature needs a number")
                entry = grouped.setdefault(row[key].strip(), [row[label_at].strip(), []])
                entry[1].append(values)
            for label, steps in grouped.values():
                series.append(np.asarray(steps, dtype=np.float32))
                labels.append(label)
        else:
            start = 1 if _is_header(rows[0]) else 0
            for number, row in enumerate(rows[start:], start=start + 1):
                values = [_float_or_none(cell) for cell in row[1:]]
                while values and values[-1] is None:
                    values.pop()
                if not values or None in values:
                    raise UsageError(f"{path}:{number}: expected a label, then the series' "
                                     "numbers (empty cells only at the end)")
                series.append(np.asarray(values, dtype=np.float32)[:, np.newaxis])
                labels.append(row[0].strip())
    except ValueError as error:
        raise UsageError(f"{path}: {str(error)!r} is not a finite number; expected "
                         f"{CSV_LAYOUTS}") from None
    if len(set(labels)) < 2:
        raise UsageError(f"{path} holds {len(set(labels))} class(es); classification needs two "
                         "or more")
    return tuple(series), tuple(labels)


def _is_header(row):
    try:
        [float(cell) for cell in row[1:] if cell.strip()]
    except ValueError:
        return True
    return False


def _class_indices(labels, class_labels):
    index = {name: i for i, name in enumerate(class_labels)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise UsageError(f"labels {unknown} are not among the declared classes {class_labels}")
    return np.array([index[label] for label in labels], dtype=np.int64)


def _take(series, indices):
    return [series[i] for i in indices]


def load_sequences(name, *, seed=1337, dev_fraction=None, test_fraction=None, data_dir="",
                   limit=None):
    """Load a series data set and split it (see the module docstring).

    ``limit`` keeps a seeded, stratified subset of that many series (of the
    train part and, in proportion, of the archive's test part).
    """
    if name not in DATASETS:
        raise UsageError(f"unknown series data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "csv" or data_dir:
        if not data_dir:
            raise UsageError(f"dataset=csv needs --set data_dir=FILE.csv ({CSV_LAYOUTS})")
        path = os.path.expanduser(str(data_dir))
        series, labels = read_series_csv(path)
        class_names = sorted(set(labels))
        y = _class_indices(labels, class_names)
        if limit is not None and limit < len(y):
            kept = splitting.stratified_subset(y, limit, seed)
            series, y = _take(series, kept), y[kept]
        dev_fraction = 0.1 if dev_fraction is None else dev_fraction
        test_fraction = 0.1 if test_fraction is None else test_fraction
        parts = splitting.split_indices(y, dev_fraction, test_fraction, seed)
        pools = [(series, y, part) for part in parts]
        source = f"your CSV file {path} ({len(y):,} series, {series[0].shape[1]} feature(s))"
        name = "csv"
    else:
        problem = TS_PROBLEMS[name]
        train_path, test_path = sktime_problem_files(problem)
        train_series, train_labels, class_names = read_ts(str(train_path))
        test_series, test_labels, _ = read_ts(str(test_path))
        y_train, y_test = (_class_indices(train_labels, class_names),
                           _class_indices(test_labels, class_names))
        if limit is not None and limit < len(y_train) + len(y_test):
            share = limit / (len(y_train) + len(y_test))
            kept = splitting.stratified_subset(y_train, max(2, round(share * len(y_train))), seed)
            train_series, y_train = _take(train_series, kept), y_train[kept]
            kept = splitting.stratified_subset(y_test, max(1, round(share * len(y_test))), seed)
            test_series, y_test = _take(test_series, kept), y_test[kept]
        if test_fraction:
            raise UsageError(f"{name} keeps its archive's own test set; test_fraction does not "
                             "apply (leave it unset)")
        dev_fraction = DEFAULT_DEV_FRACTION if dev_fraction is None else dev_fraction
        train_part, dev_part, _ = splitting.split_indices(y_train, dev_fraction, 0.0, seed)
        pools = [(train_series, y_train, train_part), (train_series, y_train, dev_part),
                 (test_series, y_test, np.arange(len(y_test)))]
        source = (f"sktime 1.2.0's bundled {problem} .ts files ({train_path.parent}; "
                  f"the archive's test set kept as test)")
        test_fraction = None
    steps = max(len(s) for pool, _, _ in pools for s in pool)
    arrays = {}
    for split, (pool, y, part) in zip(("train", "dev", "test"), pools):
        chosen = _take(pool, part)
        if chosen:
            x, lengths = pad_series(chosen, steps)
        else:
            x = np.zeros((0, steps, pool[0].shape[1]), np.float32)
            lengths = np.zeros((0,), np.int32)
        arrays[split] = (x, y[part], lengths)
    return SequenceSplits(
        name=name,
        x_train=arrays["train"][0], y_train=arrays["train"][1],
        x_dev=arrays["dev"][0], y_dev=arrays["dev"][1],
        x_test=arrays["test"][0], y_test=arrays["test"][1],
        class_names=[str(c) for c in class_names], source=source,
        split={"seed": seed, "dev_fraction": dev_fraction, "test_fraction": test_fraction,
               "limit": limit, "steps": steps,
               "sizes": {split: len(values[1]) for split, values in arrays.items()}},
        lengths_train=arrays["train"][2], lengths_dev=arrays["dev"][2],
        lengths_test=arrays["test"][2],
    )
