"""Faces: detect, align and crop them with MTCNN (PyPI ``mtcnn``, optional).

``crop_face`` finds the most confident face of an RGB image (Zhang et al.,
"Joint Face Detection and Alignment using Multi-task Cascaded Convolutional
Networks", 2016), rotates the image about the eyes' midpoint so that the eyes
are level, and cuts a square around the face box, widened by ``margin`` on
each side, resized to the model's size. ``load_face_folder`` does that for
every image of an identity-per-folder tree (the LFW layout); images where no
face is found are left out and listed, not a crash.

Install the detector with ``pip install 'dlsuite[faces]'`` (``mtcnn`` and its
``lz4``); its weights ship in the wheel, nothing is downloaded.
"""

import functools
import importlib.util

import numpy as np

from dlsuite.apps.data import files
from dlsuite.apps.errors import UsageError

MTCNN_INSTALL_HINT = "pip install 'mtcnn~=1.0.0' (or the dlsuite[faces] extra)"
# A face is accepted at this MTCNN confidence or above.
MIN_CONFIDENCE = 0.9


def mtcnn_available():
    return importlib.util.find_spec("mtcnn") is not None


@functools.lru_cache(maxsize=1)
def _detector():
    if not mtcnn_available():
        raise UsageError(f"face detection needs the PyPI package mtcnn: {MTCNN_INSTALL_HINT}")
    from mtcnn import MTCNN

    return MTCNN(device="CPU:0")


def read_rgb(path):
    """An image file -> uint8 ``(H, W, 3)``; a clear error when it is none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise UsageError(f"{path} is not an image this app can read: {error}") from None


def crop_face(image, size, margin=0.2, min_confidence=MIN_CONFIDENCE):
    """The most confident face of ``image``, eyes levelled, as uint8 ``(size, size, 3)``.

    Args:
        image: uint8 RGB ``(H, W, 3)``.
        size: ``(height, width)`` of the crop.
        margin: the face box is widened by this fraction of its size on
            every side before cropping.
        min_confidence: faces the detector is less sure of are ignored.

    Returns:
        The crop, or None when no face is found.
    """
    from PIL import Image

    image = np.asarray(image)
    found = [face for face in _detector().detect_faces(image)
             if face["confidence"] >= min_confidence]
    if not found:
        return None
    face = max(found, key=lambda f: f["confidence"])
    x, y, width, height = (float(v) for v in face["box"])
    left_eye = np.asarray(face["keypoints"]["left_eye"], np.float64)
    right_eye = np.asarray(face["keypoints"]["right_eye"], np.float64)
    dx, dy = right_eye - left_eye
    angle = np.degrees(np.arctan2(dy, dx))
    centre = (left_eye + right_eye) / 2
    # Rotating about the eyes' midpoint by the eyes' angle levels them; the
    # face box moves little, so it is cropped where it was.
    levelled = Image.fromarray(image).rotate(angle, resample=Image.BILINEAR,
                                             center=tuple(centre))
    side = max(width, height) * (1 + 2 * margin)
    cx, cy = x + width / 2, y + height / 2
    box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    crop = levelled.crop(tuple(int(round(v)) for v in box))
    crop = crop.resize((size[1], size[0]), resample=Image.BILINEAR)
    return np.asarray(crop, np.uint8)


def load_face_folder(directory, image_size):
    """Read an identity-per-folder tree, one aligned face crop per image.

    Returns ``(images, labels, class_names, skipped)``: uint8 ``(N, h, w,
    3)``, int64 labels, the sorted folder names, and the paths where no face
    was found (left out).
    """
    listing = files.list_image_folder(directory)
    class_names = sorted({_identity(directory, path) for path, _, _ in listing})
    index = {name: i for i, name in enumerate(class_names)}
    images, labels, skipped = [], [], []
    for path, _, _ in listing:
        crop = crop_face(read_rgb(path), image_size)
        if crop is None:
            skipped.append(path)
            continue
        images.append(crop)
        labels.append(index[_identity(directory, path)])
    if not images:
        raise UsageError(f"no face found in any image under {directory} (MTCNN); pass "
                         "--set detect_faces=off to use the images as they are")
    return (np.stack(images), np.asarray(labels, np.int64), tuple(class_names), skipped)


def _identity(directory, path):
    import os

    return os.path.relpath(path, directory).split(os.sep)[0]
