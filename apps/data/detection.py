"""``load_detection``: detection data from the user's files or generated scenes.

The user's own annotated folder (``data_dir`` with ``format=coco|voc|yolo``,
:mod:`dlsuite.apps.data.annotations`) comes first; without one, scenes are composed
from real digits or clothing images (:mod:`dlsuite.apps.data.scenes`). Either way
the result is a :class:`DataSplits` whose images are uint8 ``(N, size,
size, C)`` and whose ``y`` are float32 ``(N, max_boxes, 5)`` rows ``x1, y1,
x2, y2, class`` in the resized image's pixels, padded with rows of -1
(``keras.utils.bounding_boxes``' ``"xyxy"`` format plus the class).
"""

import numpy as np

from dlsuite.apps.data import annotations, scenes, splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.errors import UsageError


def pad_boxes(rows, max_boxes=None):
    """A list of ``(K_i, 5)`` rows -> float32 ``(N, max_boxes, 5)`` padded with -1."""
    max_boxes = max_boxes or max([len(r) for r in rows] + [1])
    padded = np.full((len(rows), max_boxes, 5), -1.0, np.float32)
    for index, boxes in enumerate(rows):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 5)[:max_boxes]
        padded[index, :len(boxes)] = boxes
    return padded


def resize_with_boxes(images, rows, size, channels):
    """Resize every image to ``size x size`` with ``channels`` and scale its boxes."""
    from PIL import Image

    resized = np.zeros((len(images), size, size, channels), np.uint8)
    scaled = []
    for index, (image, boxes) in enumerate(zip(images, rows)):
        height, width = image.shape[:2]
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        picture = picture.convert("L" if channels == 1 else "RGB").resize((size, size),
                                                                         Image.BILINEAR)
        array = np.asarray(picture)
        resized[index] = array[..., None] if array.ndim == 2 else array
        boxes = np.asarray(boxes, np.float32).reshape(-1, 5).copy()
        boxes[:, [0, 2]] *= size / width
        boxes[:, [1, 3]] *= size / height
        scaled.append(boxes)
    return resized, scaled


def _from_user_files(data_dir, format, image_size, seed, limit):
    found, class_names = annotations.read_detection_set(data_dir, format)
    if not class_names:
        raise UsageError(f"{data_dir}: the {format} annotations name no class")
    first = next(iter(found.values()))[0]
    channels = 3 if any(image.shape[-1] == 3 for image in first[:50]) else 1
    pooled = None
    if "train" not in found or len(found) == 1:
        # One split only: pool it and split it by the seed, 80/10/10.
        images = [image for split in found.values() for image in split[0]]
        rows = [boxes for split in found.values() for boxes in split[1]]
        firsts = np.array([int(b[0, 4]) if len(b) else -1 for b in rows])
        train, dev, test = splitting.split_indices(firsts, 0.1, 0.1, seed)
        pooled = {"train": train, "val": dev, "test": test}
        found = {name: ([images[i] for i in idx], [rows[i] for i in idx])
                 for name, idx in pooled.items()}
    if limit is not None:
        found["train"] = tuple(part[:limit] for part in found["train"])
    arrays = {}
    max_boxes = max(len(b) for split in found.values() for b in split[1]) or 1
    for split in ("train", "val", "test"):
        images, rows = found.get(split, ([], []))
        resized, scaled = resize_with_boxes(images, rows, image_size, channels)
        arrays[split] = (resized, pad_boxes(scaled, max_boxes))
    sizes = {"train": len(arrays["train"][0]), "dev": len(arrays["val"][0]),
             "test": len(arrays["test"][0])}
    return DataSplits(
        name=f"{format}_folder",
        x_train=arrays["train"][0], y_train=arrays["train"][1],
        x_dev=arrays["val"][0], y_dev=arrays["val"][1],
        x_test=arrays["test"][0], y_test=arrays["test"][1],
        class_names=list(class_names),
        source=(f"your {format} annotations in {data_dir} (resized to {image_size}x{image_size}"
                + (", split 80/10/10 by the seed)" if pooled else ")")),
        split={"seed": seed, "sizes": sizes, "limit": limit, "format": format},
    )


def load_detection(dataset="mnist5k", *, data_dir="", format="yolo", image_size=128, seed=1337,
                   limit=None, spec=None, train_scenes=6000, dev_scenes=300, test_scenes=500):
    """Detection data for the detection apps; see the module docstring.

    ``dataset`` names the scene source (``mnist5k``, ``fashion_mnist``) used
    when ``data_dir`` is empty; ``image_size`` is the scene canvas, or the
    size the user's images are resized to.
    """
    if data_dir:
        return _from_user_files(data_dir, format, image_size, seed, limit)
    spec = spec or scenes.SceneSpec(canvas=image_size)
    return scenes.load_scenes(dataset, seed=seed, spec=spec, train_scenes=train_scenes,
                              dev_scenes=dev_scenes, test_scenes=test_scenes, limit=limit)
