"""The user's own data: image folders and CSV files.

* An image folder has one sub-folder per class (the LFW / ImageFolder
  layout): ``DIR/cat/1.png, DIR/dog/7.jpg, ...``. It is read with
  ``keras.utils.image_dataset_from_directory`` and collected into numpy.
* A CSV file has a header row; the label column is named ``label`` (any
  case), else it is the last column. Every other column is a numeric
  feature. Labels may be strings or integers.

Parsed arrays are cached in-process, keyed on the files' sizes and
modification times, and returned read-only.
"""

import csv
import functools
import os

import numpy as np

from dlsuite.apps.errors import UsageError

# What keras.utils.image_dataset_from_directory reads.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# PIL modes that hold a single (gray) channel, with or without alpha.
_SINGLE_CHANNEL_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}


def _read_only(array):
    array.flags.writeable = False
    return array


def file_fingerprint(path):
    """``(path, size, mtime_ns)``: changes when the file is rewritten."""
    status = os.stat(path)
    return (path, status.st_size, status.st_mtime_ns)


def list_image_folder(directory):
    """List the images of an ImageFolder tree.

    Args:
        directory: a folder with one sub-folder per class.

    Returns:
        A tuple of ``(path, size, mtime_ns)`` per image file, sorted.

    Raises:
        UsageError: the folder is missing, has no class sub-folder or no
            image file in them.
    """
    if not os.path.isdir(directory):
        raise UsageError(
            f"Image folder not found: {directory}. Expected a folder with one sub-folder per "
            "class (DIR/CLASS_NAME/IMAGE.png)."
        )
    class_folders = sorted(
        entry.path for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)
    )
    if not class_folders:
        raise UsageError(
            f"No class sub-folders in {directory}. Expected one sub-folder per class "
            "(DIR/CLASS_NAME/IMAGE.png)."
        )
    files = []
    for class_folder in class_folders:
        for root, _, names in os.walk(class_folder):
            for name in names:
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    files.append(file_fingerprint(os.path.join(root, name)))
    if not files:
        raise UsageError(
            f"No images under the class sub-folders of {directory}. Expected "
            f"{', '.join(IMAGE_EXTENSIONS)} files in DIR/CLASS_NAME/."
        )
    return tuple(sorted(files))


def infer_color_mode(paths):
    """``"grayscale"`` if every image has a single channel, else ``"rgb"``.

    Only the image headers are read (PIL opens lazily).
    """
    from PIL import Image, UnidentifiedImageError

    for path in paths:
        try:
            with Image.open(path) as image:
                mode = image.mode
        except (OSError, UnidentifiedImageError) as error:
            raise UsageError(f"Cannot read image {path}: {error}") from None
        if mode not in _SINGLE_CHANNEL_MODES:
            return "rgb"
    return "grayscale"


@functools.lru_cache(maxsize=8)
def read_image_folder(directory, fingerprint, image_size, color_mode):
    """Read an ImageFolder tree into numpy (cached).

    Args:
        directory: the folder.
        fingerprint: :func:`list_image_folder`'s result, the cache key that
            notices added, removed or rewritten files.
        image_size: ``(height, width)`` every image is resized to.
        color_mode: ``"grayscale"`` or ``"rgb"``.

    Returns:
        ``(images, labels, class_names)``: read-only ``uint8`` array
        ``(N, height, width, channels)``, read-only ``int64`` labels
        ``(N,)`` and the sorted class (sub-folder) names.
    """
    del fingerprint  # Only part of the cache key.
    import keras
    import tensorflow as tf

    dataset = keras.utils.image_dataset_from_directory(
        directory,
        labels="inferred",
        label_mode="int",
        color_mode=color_mode,
        batch_size=256,
        image_size=tuple(image_size),
        shuffle=False,
        data_format="channels_last",
        verbose=False,
    )
    class_names = tuple(dataset.class_names)
    image_batches, label_batches = [], []
    try:
        for images, labels in dataset.as_numpy_iterator():
            image_batches.append(np.clip(np.rint(images), 0, 255).astype(np.uint8))
            label_batches.append(labels.astype(np.int64))
    except tf.errors.OpError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"Cannot decode an image under {directory}: {message}") from None
    images = np.concatenate(image_batches)
    labels = np.concatenate(label_batches)
    return _read_only(images), _read_only(labels), class_names


def _parse_number(text):
    """``float(text)``, or None if it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def read_csv(path, fingerprint):
    """Parse a CSV file of numeric features and a label column (cached).

    Args:
        path: the file.
        fingerprint: :func:`file_fingerprint` of it, the cache key.

    Returns:
        ``(features, labels, class_names, feature_names)``: read-only
        ``float32`` ``(N, D)``, read-only ``int64`` ``(N,)`` indices into
        ``class_names``. String labels map to their sorted names; integer
        labels to their sorted values, named by their decimal text.

    Raises:
        UsageError: no header, no data row, no feature column, a ragged row
            or a non-numeric feature; the message names the row and column.
    """
    del fingerprint  # Only part of the cache key.
    expected = "a header row, numeric feature columns and a `label` column (else the last column)"
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise UsageError(f"Cannot read CSV file {path}: {error}") from None
    if len(rows) < 2:
        raise UsageError(f"CSV file {path} has no data rows. Expected {expected}.")
    header = [name.strip() for name in rows[0]]
    if len(header) < 2:
        raise UsageError(f"CSV file {path} has {len(header)} column(s). Expected {expected}.")
    lowered = [name.lower() for name in header]
    label_column = lowered.index("label") if "label" in lowered else len(header) - 1
    feature_columns = [column for column in range(len(header)) if column != label_column]

    features = np.empty((len(rows) - 1, len(feature_columns)), dtype=np.float32)
    label_texts = []
    for row_number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UsageError(
                f"CSV file {path}, line {row_number}: {len(row)} values, the header has "
                f"{len(header)}."
            )
        for feature_index, column in enumerate(feature_columns):
            value = _parse_number(row[column])
            if value is None:
                raise UsageError(
                    f"CSV file {path}, line {row_number}, column `{header[column]}`: "
                    f"{row[column]!r} is not a number. Expected {expected}."
                )
            features[row_number - 2, feature_index] = value
        label_texts.append(row[label_column].strip())

    numbers = [_parse_number(text) for text in label_texts]
    if all(number is not None and number.is_integer() for number in numbers):
        values = np.array(numbers, dtype=np.int64)
        unique_values = np.unique(values)
        class_names = tuple(str(int(value)) for value in unique_values)
        labels = np.searchsorted(unique_values, values).astype(np.int64)
    else:
        unique_texts = sorted(set(label_texts))
        class_names = tuple(unique_texts)
        index_of = {text: index for index, text in enumerate(unique_texts)}
        labels = np.array([index_of[text] for text in label_texts], dtype=np.int64)
    feature_names = tuple(header[column] for column in feature_columns)
    return _read_only(features), _read_only(labels), class_names, feature_names
