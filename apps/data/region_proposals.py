"""Region proposals by selective search (Uijlings et al. 2013), OpenCV's
``ximgproc.segmentation`` implementation from the PyPI package
``opencv-contrib-python-headless`` (the ``rcnn`` extra; ``make`` installs it).

OpenCV's search ranks regions with C's ``rand()``, so two runs on one image
differ; :func:`search` seeds it (``srand``) before each image, which makes
the proposals a function of the image and the settings alone. ``rand()``'s
state is the process's, so :func:`search_all` spreads images over worker
processes (this module imports neither TensorFlow nor Keras, so spawned
workers start fast), never threads.

Measured on 50 digit scenes (128 x 128, one core): the "fast" strategy at
k = 100 takes 37 ms an image for a median of 42 proposals and finds 89% of
the true boxes at IoU 0.5; "quality" takes 130 ms for 98 proposals and
93%; a single strategy 5 ms for 10 and 76%.
"""

import concurrent.futures
import ctypes
import ctypes.util
import dataclasses
import multiprocessing
import os
import time

import numpy as np

from dlsuite.apps.errors import UsageError

SEARCH_MODES = ("fast", "quality", "single")
INSTALL = ("selective search needs OpenCV's contrib modules: pip install "
           "'opencv-contrib-python-headless~=5.0.0' (or `pip install dlsuite[rcnn]`; "
           "`make` installs it)")
# Below this many images the search runs in this process.
POOL_FROM = 64
_LIBC = None


def _cv2():
    try:
        import cv2
    except ImportError:
        raise UsageError(INSTALL) from None
    if not hasattr(cv2, "ximgproc"):
        raise UsageError(f"the installed OpenCV has no ximgproc module; {INSTALL} "
                         "(and remove opencv-python, which shadows it)")
    return cv2


def _seed_rand(seed):
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
    _LIBC.srand(ctypes.c_uint(seed))


@dataclasses.dataclass(frozen=True)
class SearchSettings:
    """How selective search runs: strategy, Felzenszwalb's k and sigma, how
    many proposals (in the search's own ranking) are kept per image, the
    smallest side kept, and the seed of its ranking."""

    mode: str = "fast"
    k: int = 100
    sigma: float = 0.8
    max_proposals: int = 200
    min_size: int = 4
    seed: int = 0

    def key(self):
        return (f"{self.mode}-k{self.k}-s{self.sigma:g}-n{self.max_proposals}-m{self.min_size}"
                f"-r{self.seed}")


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
    _seed_rand(settings.seed)
    rects = np.asarray(segmentation.process(), np.float32).reshape(-1, 4)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    keep = (rects[:, 2] >= settings.min_size) & (rects[:, 3] >= settings.min_size)
    boxes = boxes[keep]
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)][:settings.max_proposals]


def _search_chunk(images, settings):
    _cv2().setNumThreads(1)
    padded = np.zeros((len(images), settings.max_proposals, 4), np.float32)
    for index, image in enumerate(images):
        boxes = search(image, settings)
        padded[index, :len(boxes)] = boxes
    return padded


def search_all(images, settings, workers=None, say=None):
    """Proposals of every image, padded with zero rows: ``(N, max_proposals,
    4)``, over ``workers`` processes (default: one per core)."""
    images = np.asarray(images)
    workers = max(1, min(workers or os.cpu_count() or 1, len(images) // POOL_FROM))
    start = time.perf_counter()
    if workers == 1:
        padded = _search_chunk(images, settings)
    else:
        chunks = np.array_split(np.arange(len(images)), workers * 8)
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = list(pool.map(_search_chunk, [images[c] for c in chunks],
                                  [settings] * len(chunks)))
        padded = np.concatenate(parts)
    if say:
        seconds = time.perf_counter() - start
        count = float((padded[..., 2] > 0).sum(1).mean()) if len(images) else 0.0
        say(f"selective search ({settings.mode}, k={settings.k}): {len(images)} images in "
            f"{seconds:.1f} s ({1000 * seconds / max(len(images), 1):.1f} ms an image, "
            f"{workers} process(es)), {count:.0f} proposals an image on average")
    return padded
