"""Detection scenes made from real images, with exact boxes and classes.

No annotated detection set installs offline (``shared/DATA.md``), so the
default detection data is composed: real MNIST digits (``mnist5k``) or
Fashion-MNIST clothing images pasted on a black canvas at random places and
scales (x1 to x3 of their 28-pixel size), up to ``max_objects`` per scene,
some overlapping (at most ``max_overlap`` IoU with any earlier object). Each
object's box is the tight box of its ink (pixels above :data:`INK`) after
scaling, so the boxes are exact; overlapping objects are merged by the
pixel-wise maximum, as ink on ink.

The objects are split first (seeded, stratified, as every data set in
``dlsuite.apps.data``), then train, dev and test scenes are drawn from their own
objects, so a test scene holds only digits no training scene has. The
scenes of a split depend only on the seed and the split's size, so the test
set is the same for every run with that seed.

    >>> from apps.data.scenes import load_scenes
    >>> data = load_scenes("mnist5k", seed=1, train_scenes=100, dev_scenes=20, test_scenes=20)
    >>> data.x_train.shape, data.y_train.shape     # images, (x1, y1, x2, y2, class) rows
    ((100, 128, 128, 1), (100, 6, 5))
"""

import dataclasses

import numpy as np
from PIL import Image

from dlsuite.apps.data import sources, splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.errors import UsageError

# A pixel above this (0..255) is ink: it belongs to the object's tight box.
INK = 40
# The native size of the pasted images.
OBJECT_SIZE = 28
SCENE_SOURCES = ("mnist5k", "fashion_mnist")
# Tries to place one object before the scene keeps fewer objects.
PLACEMENT_TRIES = 30


@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """How scenes are drawn: canvas size, objects per scene, scale range, overlap."""

    canvas: int = 128
    min_objects: int = 1
    max_objects: int = 6
    min_scale: float = 1.0
    max_scale: float = 3.0
    max_overlap: float = 0.3

    def __post_init__(self):
        if self.canvas < OBJECT_SIZE * self.max_scale:
            raise UsageError(
                f"canvas {self.canvas} cannot hold an object at scale {self.max_scale} "
                f"({OBJECT_SIZE * self.max_scale:.0f} pixels); raise canvas or lower max_scale"
            )
        if not 1 <= self.min_objects <= self.max_objects:
            raise UsageError(
                "objects per scene must satisfy 1 <= min_objects <= max_objects. Received: "
                f"min_objects={self.min_objects}, max_objects={self.max_objects}"
            )
        if not 0 < self.min_scale <= self.max_scale:
            raise UsageError(
                f"scales must satisfy 0 < min_scale <= max_scale. Received: "
                f"min_scale={self.min_scale}, max_scale={self.max_scale}"
            )
        if not 0.0 <= self.max_overlap <= 1.0:
            raise UsageError(f"max_overlap must be in [0, 1]. Received: {self.max_overlap}")


def _box_iou(box, boxes):
    """IoU of one xyxy box with ``(K, 4)`` boxes (numpy, for placement only)."""
    if not len(boxes):
        return np.zeros(0)
    boxes = np.asarray(boxes)
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    overlap = width * height
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return overlap / ((box[2] - box[0]) * (box[3] - box[1]) + areas - overlap)


def _ink_box(patch):
    """Tight ``(x1, y1, x2, y2)`` of the ink of a 2-D patch; None if it has none."""
    ink = patch > INK
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not len(rows):
        return None
    return cols[0], rows[0], cols[-1] + 1, rows[-1] + 1


def generate_scenes(objects, labels, count, spec=SceneSpec(), seed=0):
    """Draw ``count`` scenes from ``objects`` (uint8 ``(N, 28, 28, 1)``).

    Returns ``(images, boxes)``: uint8 ``(count, canvas, canvas, 1)`` and
    float32 ``(count, max_objects, 5)`` rows ``x1, y1, x2, y2, class`` in
    pixels, padded with rows of -1.
    """
    rng = np.random.default_rng(seed)
    canvas = spec.canvas
    images = np.zeros((count, canvas, canvas, 1), np.uint8)
    boxes = np.full((count, spec.max_objects, 5), -1.0, np.float32)
    for scene in range(count):
        wanted = int(rng.integers(spec.min_objects, spec.max_objects + 1))
        placed = []
        for _ in range(wanted):
            for _ in range(PLACEMENT_TRIES):
                index = int(rng.integers(len(objects)))
                size = int(round(OBJECT_SIZE * rng.uniform(spec.min_scale, spec.max_scale)))
                patch = np.asarray(Image.fromarray(objects[index][..., 0]).resize(
                    (size, size), Image.BILINEAR))
                ink = _ink_box(patch)
                if ink is None:
                    break
                left = int(rng.integers(0, canvas - size + 1))
                top = int(rng.integers(0, canvas - size + 1))
                box = np.array([left + ink[0], top + ink[1], left + ink[2], top + ink[3]],
                               np.float32)
                if len(placed) and _box_iou(box, [b[:4] for b in placed]).max() > spec.max_overlap:
                    continue
                region = images[scene, top:top + size, left:left + size, 0]
                np.maximum(region, patch, out=region)
                placed.append((*box, float(labels[index])))
                break
        if placed:
            boxes[scene, :len(placed)] = placed
    return images, boxes


def _scene_counts(train_scenes, dev_scenes, test_scenes, limit):
    """Scene counts per split; ``limit`` caps training and shrinks dev and test with it."""
    if limit is None:
        return train_scenes, dev_scenes, test_scenes
    if limit < 10:
        raise UsageError(f"limit must be >= 10 scenes. Received: limit={limit}")
    shrink = min(1.0, limit / train_scenes)
    return (min(limit, train_scenes), max(5, int(dev_scenes * shrink)),
            max(5, int(test_scenes * shrink)))


def load_scenes(source="mnist5k", *, seed=1337, spec=SceneSpec(), train_scenes=6000,
                dev_scenes=300, test_scenes=500, limit=None):
    """Scenes of real ``source`` images (``mnist5k`` or ``fashion_mnist``) as
    a :class:`DataSplits` whose ``y`` are padded ``(N, max_objects, 5)``
    boxes; see the module docstring."""
    if source not in SCENE_SOURCES:
        raise UsageError(f"scene source must be one of {', '.join(SCENE_SOURCES)}. "
                         f"Received: {source!r}")
    raw = sources.LOADERS[source]()
    counts = _scene_counts(train_scenes, dev_scenes, test_scenes, limit)
    train, dev, test = splitting.split_indices(raw.y, 0.1, 0.1, seed)
    arrays = {}
    for offset, (name, indices, count) in enumerate(
            (("train", train, counts[0]), ("dev", dev, counts[1]), ("test", test, counts[2]))):
        arrays[name] = generate_scenes(raw.x[indices], raw.y[indices], count, spec,
                                       seed=seed * 3 + offset)
    objects = {name: int((boxes[..., 4] >= 0).sum()) for name, (_, boxes) in arrays.items()}
    return DataSplits(
        name=f"{source}_scenes",
        x_train=arrays["train"][0], y_train=arrays["train"][1],
        x_dev=arrays["dev"][0], y_dev=arrays["dev"][1],
        x_test=arrays["test"][0], y_test=arrays["test"][1],
        class_names=list(raw.class_names),
        source=(f"scenes composed from {raw.source}: {spec.min_objects}-{spec.max_objects} "
                f"objects per {spec.canvas}x{spec.canvas} canvas, scales x{spec.min_scale:g} "
                f"to x{spec.max_scale:g}, overlap IoU <= {spec.max_overlap:g}"),
        split={"seed": seed, "sizes": {"train": counts[0], "dev": counts[1], "test": counts[2]},
               "objects": objects, "limit": limit, "scene_spec": dataclasses.asdict(spec),
               "objects_split": "80/10/10 of the source's images, scenes per split"},
    )
