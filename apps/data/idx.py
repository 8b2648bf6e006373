"""Read IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the
number of dimensions), one big-endian ``uint32`` per dimension, then the
values in row-major order. MNIST and Fashion-MNIST use unsigned bytes
(type code ``0x08``): images are 3-D ``(count, rows, columns)`` (magic
``0x00000803``), labels 1-D ``(count,)`` (magic ``0x00000801``). Files may
be gzip-compressed (``.gz``), as they are published.

Reference: http://yann.lecun.com/exdb/mnist/ (section "File formats").
"""

import gzip
import os
import zlib

import numpy as np

from dlsuite.apps.errors import UsageError

# The IDX type code of unsigned bytes; the only one these data sets use.
UNSIGNED_BYTE = 0x08

# File names shared by MNIST and Fashion-MNIST (Keras cache, Debian package,
# the original web sites).
IDX_FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def find_idx_files(directory):
    """Return ``{role: path}`` of the IDX files present in ``directory``.

    ``role`` is a key of :data:`IDX_FILE_NAMES`; a gzip-compressed file
    (``NAME.gz``) is preferred to an uncompressed one (``NAME``). Roles with
    no file are left out, so the caller can tell a partial set apart.
    """
    found = {}
    for role, base_name in IDX_FILE_NAMES.items():
        for candidate in (base_name + ".gz", base_name):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                found[role] = path
                break
    return found


def read_idx(path, expected_ndim):
    """Read one unsigned-byte IDX file into a numpy ``uint8`` array.

    Args:
        path: the file, gzip-compressed if its name ends in ``.gz``.
        expected_ndim: 3 for an image file, 1 for a label file.

    Returns:
        A ``uint8`` array of the shape the header declares.

    Raises:
        UsageError: the file is truncated, not valid gzip, has the wrong
            magic number or a size that disagrees with its header. The
            message names the file.
    """
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                content = handle.read()
        else:
            with open(path, "rb") as handle:
                content = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise UsageError(
            f"Corrupt or truncated file {path}: {error}. Delete it and install or copy it again."
        ) from None

    expected_magic = (UNSIGNED_BYTE << 8) | expected_ndim
    if len(content) < 4:
        raise UsageError(f"Not an IDX file: {path} is only {len(content)} bytes long.")
    magic = int.from_bytes(content[:4], "big")
    if magic != expected_magic:
        raise UsageError(
            f"Not an IDX file of {expected_ndim}-D unsigned bytes: {path} starts with magic "
            f"number 0x{magic:08x}, expected 0x{expected_magic:08x}."
        )
    header_size = 4 + 4 * expected_ndim
    if len(content) < header_size:
        raise UsageError(f"Truncated IDX header in {path}.")
    shape = tuple(
        int.from_bytes(content[4 + 4 * axis : 8 + 4 * axis], "big") for axis in range(expected_ndim)
    )
    value_count = int(np.prod(shape, dtype=np.int64))
    if len(content) - header_size != value_count:
        raise UsageError(
            f"Corrupt IDX file {path}: header declares shape {shape} ({value_count} values) "
            f"but the file holds {len(content) - header_size}."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


def write_idx(path, array):
    """Write a ``uint8`` array as an IDX file (gzip-compressed if ``.gz``).

    The inverse of :func:`read_idx`, for tests and for users who want to
    export a data set in the MNIST layout.
    """
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = ((UNSIGNED_BYTE << 8) | array.ndim).to_bytes(4, "big")
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())
