"""Region proposals by selective search (Uijlings et al. 2013), computed once
per image and cached.

``rcnn`` and ``fast`` classify regions that selective search proposes:
OpenCV's ``ximgproc.segmentation`` implementation, from the PyPI package
``opencv-contrib-python-headless`` (the ``rcnn`` extra, installed by
``make``). It runs on the CPU, outside any TensorFlow graph, so each split's
proposals are computed once (threads, one image each; OpenCV releases the
GIL) and kept in ``RUN/proposals/<key>.npz``, written atomically; the key
hashes the images and the search settings, so a resumed run, ``dlsuite
evaluate`` or ``report`` reads them back and different images never share
them. ``dlsuite predict`` runs the same search on each file before calling
the export (:func:`search`).

Measured on 50 digit scenes (128 x 128, one core): the "fast" strategy at
k = 100 takes 37 ms an image for a median of 42 proposals and finds 89% of
the true boxes at IoU 0.5; "quality" takes 130 ms for 98 proposals and
93%; a single strategy 5 ms for 10 and 76%.
"""

import concurrent.futures
import dataclasses
import hashlib
import os
import pathlib
import time

import numpy as np

from apps.runtime import atomic
from apps.runtime.errors import UsageError

SEARCH_MODES = ("fast", "quality", "single")
INSTALL = ("selective search needs OpenCV's contrib modules: pip install "
           "'opencv-contrib-python-headless~=5.0.0' (or `pip install dlsuite[rcnn]`; "
           "`make` installs it)")


def _cv2():
    try:
        import cv2
    except ImportError:
        raise UsageError(INSTALL) from None
    if not hasattr(cv2, "ximgproc"):
        raise UsageError(f"the installed OpenCV has no ximgproc module; {INSTALL} "
                         "(and remove opencv-python, which shadows it)")
    return cv2


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """How selective search runs: strategy, Felzenszwalb's k and sigma, and
    how many proposals (in the search's own ranking) are kept per image."""

    mode: str = "fast"
    k: int = 100
    sigma: float = 0.8
    max_proposals: int = 200
    min_size: int = 4

    def key(self):
        return f"{self.mode}-k{self.k}-s{self.sigma:g}-n{self.max_proposals}-m{self.min_size}"


def search(image, settings):
    """Proposals of one uint8 image ``(H, W, 1 or 3)``: float32 ``(K, 4)``
    xyxy, K <= ``max_proposals``, in selective search's order, without boxes
    under ``min_size`` pixels a side or repeats."""
    cv2 = _cv2()
    picture = np.ascontiguousarray(np.repeat(image, 3, axis=-1) if image.shape[-1] == 1
                                   else image[..., ::-1], dtype=np.uint8)
    segmentation = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    segmentation.setBaseImage(picture)
    if settings.mode == "fast":
        segmentation.switchToSelectiveSearchFast(base_k=settings.k, inc_k=settings.k,
                                                 sigma=settings.sigma)
    elif settings.mode == "quality":
        segmentation.switchToSelectiveSearchQuality(base_k=settings.k, inc_k=settings.k,
                                                    sigma=settings.sigma)
    else:
        segmentation.switchToSingleStrategy(k=settings.k, sigma=settings.sigma)
    rects = np.asarray(segmentation.process(), np.float32).reshape(-1, 4)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    keep = (rects[:, 2] >= settings.min_size) & (rects[:, 3] >= settings.min_size)
    boxes = boxes[keep]
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)][:settings.max_proposals]


def search_all(images, settings, workers=None, say=None):
    """Proposals of every image, padded with zero rows: ``(N, max_proposals, 4)``."""
    _cv2().setNumThreads(1)
    images = np.asarray(images)
    padded = np.zeros((len(images), settings.max_proposals, 4), np.float32)
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for index, boxes in enumerate(pool.map(lambda image: search(image, settings), images)):
            padded[index, :len(boxes)] = boxes
            if say and index and index % 2000 == 0:
                say(f"  selective search: {index} / {len(images)} images")
    if say:
        seconds = time.perf_counter() - start
        say(f"selective search ({settings.mode}, k={settings.k}): {len(images)} images in "
            f"{seconds:.1f} s ({1000 * seconds / max(len(images), 1):.1f} ms an image, "
            f"{workers} threads), {int((padded[..., 2] > 0).sum(1).mean()) if len(images) else 0}"
            " proposals an image on average")
    return padded


def fingerprint(images, settings):
    digest = hashlib.sha256()
    images = np.ascontiguousarray(images)
    digest.update(str((images.shape, images.dtype.str, settings.key())).encode())
    digest.update(images.tobytes())
    return digest.hexdigest()[:24]


class ProposalCache:
    """Proposals of image arrays, computed once and kept as ``.npz`` files in
    ``directory`` (None: in memory only)."""

    def __init__(self, directory, settings, say=print):
        self.directory = pathlib.Path(directory) if directory else None
        self.settings = settings
        self.say = say
        self._memory = {}

    def path(self, key):
        return self.directory / f"{key}.npz"

    def get(self, images):
        key = fingerprint(images, self.settings)
        if key in self._memory:
            return self._memory[key]
        found = self._read(key) if self.directory else None
        if found is None:
            found = search_all(images, self.settings, say=self.say)
            if self.directory:
                self.directory.mkdir(parents=True, exist_ok=True)
                with atomic.replacing(self.path(key)) as partial:
                    with open(partial, "wb") as handle:
                        np.savez(handle, boxes=found)
        self._memory[key] = found
        return found

    def _read(self, key):
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                boxes = archive["boxes"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            return None  # unreadable: computed again and rewritten
        if boxes.ndim != 3 or boxes.shape[1:] != (self.settings.max_proposals, 4):
            return None
        return boxes
