"""``load(name)``: one data set, resolved from its best source, split by seed."""

import numbers
import os

import numpy as np

from dlsuite.apps.data import sources, splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.errors import UsageError

# Valid data set names, in the order help texts list them.
DATASETS = tuple(sources.LOADERS)


def _check_name(name):
    canonical = str(name).strip().lower().replace("-", "_")
    if canonical not in sources.LOADERS and canonical != "auto":
        raise UsageError(f"Unknown data set {name!r}. Choose one of: {', '.join(DATASETS)}.")
    return canonical


def _check_image_size(image_size):
    """``None``, an int ``n`` (square) or ``(height, width)`` -> tuple or None."""
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = (int(size) for size in image_size)
    except (TypeError, ValueError):
        raise UsageError(
            f"image_size must be (height, width) in pixels. Received: image_size={image_size!r}"
        ) from None
    if height < 1 or width < 1:
        raise UsageError(f"image_size must be positive. Received: image_size={image_size!r}")
    return (height, width)


def _check_limit(limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise UsageError(f"limit must be a positive int or None. Received: limit={limit!r}")
    return int(limit)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UsageError(f"seed must be a non-negative int. Received: seed={seed!r}")
    return int(seed)


def resize_images(images, image_size, chunk_size=1024):
    """Resize ``uint8 (N, H, W, C)`` images to ``image_size``, bilinear, antialiased.

    Works in chunks so that large sets do not hold a float copy of
    everything at once. Returns a new ``uint8`` array.
    """
    import tensorflow as tf

    resized = np.empty((len(images), *image_size, images.shape[-1]), dtype=np.uint8)
    for start in range(0, len(images), chunk_size):
        chunk = tf.image.resize(
            images[start : start + chunk_size].astype(np.float32),
            image_size,
            method="bilinear",
            antialias=True,
        )
        resized[start : start + chunk_size] = np.clip(np.rint(chunk.numpy()), 0, 255)
    return resized


def load(
    name,
    *,
    seed=1337,
    dev_fraction=None,
    test_fraction=None,
    data_dir="",
    image_size=None,
    limit=None,
):
    """Load a data set and split it into train / dev / test.

    Every example the source has (official train and test pooled) is split
    by a seeded, stratified draw, so dev and test share one distribution.

    Args:
        name: ``"auto"`` (image sets: Fashion-MNIST when installed, else
            ``"mnist5k"``; with ``data_dir``, ``"images"``) or one of
            :data:`DATASETS`: ``"digits"``, ``"breast_cancer"``,
            ``"mnist5k"``, ``"fashion_mnist"``, ``"images"`` (a folder with
            one sub-folder per class, ``data_dir`` required) or ``"csv"``
            (a CSV file, ``data_dir`` required).
        seed: the same seed gives the same split (and ``limit`` subset).
        dev_fraction: fraction of examples for dev; None means 0.10, or
            0.01 above 1,000,000 examples.
        test_fraction: the same for test.
        data_dir: the user's own files, used before any other source: an
            image folder, a CSV file, a folder of MNIST-layout IDX files or
            an ``mnist.npz``. ``~`` is expanded. Empty: the best installed
            source.
        image_size: ``(height, width)`` (or one int for a square) images are
            resized to. None keeps arrays at their native size and reads
            image folders at the data set's native size (64x64 for
            ``"images"``). Not valid for tabular sets.
        limit: keep a seeded, stratified subset of this many examples
            before splitting (fast tests). None keeps everything.

    Returns:
        A :class:`DataSplits`. Images are ``uint8 (N, H, W, C)`` in 0..255,
        tabular features ``float32 (N, D)``, labels ``int64 (N,)``. The
        arrays are fresh copies the caller may modify. ``source`` names
        where the data came from; ``split`` records seed, fractions, sizes,
        total and limit.

    Raises:
        UsageError: unknown name, bad argument, or a missing or corrupt
            source (the message says what to install or pass).
    """
    name = _check_name(name)
    chosen = ""
    if name == "auto":
        name, chosen = sources.resolve_auto(data_dir)
    seed = _check_seed(seed)
    image_size = _check_image_size(image_size)
    limit = _check_limit(limit)
    if image_size is not None and name in sources.TABULAR:
        raise UsageError(f"image_size applies to image data sets only; {name} is tabular.")
    data_dir = os.path.expanduser(str(data_dir)) if data_dir else ""

    raw = sources.LOADERS[name](data_dir=data_dir, image_size=image_size)
    features, labels = raw.x, raw.y
    if limit is not None and limit < len(labels):
        kept = splitting.stratified_subset(labels, limit, seed)
        features, labels = features[kept], labels[kept]
    if image_size is not None and features.shape[1:3] != image_size:
        features = resize_images(features, image_size)

    total = len(labels)
    default_dev, default_test = splitting.default_fractions(total)
    dev_fraction = default_dev if dev_fraction is None else float(dev_fraction)
    test_fraction = default_test if test_fraction is None else float(test_fraction)
    train, dev, test = splitting.split_indices(labels, dev_fraction, test_fraction, seed)

    # Fancy indexing copies: the cached arrays stay untouched.
    return DataSplits(
        name=name,
        x_train=features[train],
        y_train=labels[train],
        x_dev=features[dev],
        y_dev=labels[dev],
        x_test=features[test],
        y_test=labels[test],
        class_names=[str(class_name) for class_name in raw.class_names],
        source=f"{raw.source} ({chosen})" if chosen else raw.source,
        split={
            "seed": seed,
            "dev_fraction": dev_fraction,
            "test_fraction": test_fraction,
            "sizes": {"train": len(train), "dev": len(dev), "test": len(test)},
            "total": total,
            "limit": limit,
        },
    )
