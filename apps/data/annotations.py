"""Detection annotations in COCO JSON, Pascal VOC XML and YOLO text.

``write_detection_set`` writes scenes (images and padded ``x1, y1, x2, y2,
class`` rows in pixels) in one of the formats, so other tools (Ultralytics,
torchvision, pycocotools) read the very same data; ``read_detection_set``
reads a user's folder back. The layouts are each format's usual one:

- ``coco``: ``images/<split>/<name>.png`` and
  ``annotations/instances_<split>.json`` (``bbox`` is ``[x, y, width,
  height]`` in pixels, category ids from 1).
- ``voc``: ``JPEGImages/<name>.png``, ``Annotations/<name>.xml``
  (``bndbox`` in 1-based inclusive pixels: ``xmin = x1 + 1``, ``xmax =
  x2``) and ``ImageSets/Main/<split>.txt``.
- ``yolo``: ``images/<split>/<name>.png``, ``labels/<split>/<name>.txt``
  (one ``class cx cy w h`` line per object, normalised to [0, 1]) and
  ``data.yaml`` with the class names (Ultralytics' layout).

Splits are named ``train``, ``val`` and ``test``. A malformed file is a
:class:`UsageError` naming the file and the line or field.
"""

import json
import os
import pathlib
import xml.etree.ElementTree as ElementTree

import numpy as np
from PIL import Image

from dlsuite.apps.errors import UsageError

FORMATS = ("coco", "voc", "yolo")
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _rows(boxes):
    """The real (non-padding) rows of one image's padded boxes."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
    return boxes[boxes[:, 4] >= 0]


def _save_image(image, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.asarray(image, np.uint8)
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)


# -- writing ---------------------------------------------------------------------------------


def write_detection_set(directory, splits, class_names, format):
    """Write ``{split: (images, boxes)}`` to ``directory`` in ``format``.

    ``images`` are uint8 ``(N, H, W, C)``, ``boxes`` ``(N, M, 5)`` padded
    rows. Returns the path of the file a tool is pointed at (the YOLO
    ``data.yaml``, the COCO annotations folder, the VOC root).
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}. Received: {format!r}")
    root = pathlib.Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    for split, (images, boxes) in splits.items():
        if split not in SPLITS:
            raise UsageError(f"split names are {', '.join(SPLITS)}. Received: {split!r}")
        names = [f"{split}_{index:06d}" for index in range(len(images))]
        if format == "coco":
            _write_coco(root, split, names, images, boxes, class_names)
        elif format == "voc":
            _write_voc(root, split, names, images, boxes, class_names)
        else:
            _write_yolo(root, split, names, images, boxes)
    if format == "yolo":
        lines = [f"path: {root.resolve()}"]
        lines += [f"{split}: images/{split}" for split in SPLITS if split in splits]
        lines += ["names:"] + [f"  {i}: {json.dumps(name)}" for i, name in enumerate(class_names)]
        (root / "data.yaml").write_text("\n".join(lines) + "\n")
        return root / "data.yaml"
    return root


def _write_coco(root, split, names, images, boxes, class_names):
    entries, annotations = [], []
    for index, (name, image, rows) in enumerate(zip(names, images, boxes)):
        _save_image(image, root / "images" / split / f"{name}.png")
        entries.append({"id": index + 1, "file_name": f"{name}.png",
                        "height": int(image.shape[0]), "width": int(image.shape[1])})
        for x1, y1, x2, y2, label in _rows(rows):
            annotations.append({
                "id": len(annotations) + 1, "image_id": index + 1, "category_id": int(label) + 1,
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "area": float((x2 - x1) * (y2 - y1)), "iscrowd": 0})
    document = {"images": entries, "annotations": annotations,
                "categories": [{"id": i + 1, "name": n} for i, n in enumerate(class_names)]}
    path = root / "annotations" / f"instances_{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def _write_voc(root, split, names, images, boxes, class_names):
    listing = root / "ImageSets" / "Main" / f"{split}.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("".join(f"{name}\n" for name in names))
    for name, image, rows in zip(names, images, boxes):
        _save_image(image, root / "JPEGImages" / f"{name}.png")
        annotation = ElementTree.Element("annotation")
        ElementTree.SubElement(annotation, "filename").text = f"{name}.png"
        size = ElementTree.SubElement(annotation, "size")
        for key, value in zip(("height", "width", "depth"), image.shape):
            ElementTree.SubElement(size, key).text = str(value)
        for x1, y1, x2, y2, label in _rows(rows):
            item = ElementTree.SubElement(annotation, "object")
            ElementTree.SubElement(item, "name").text = class_names[int(label)]
            ElementTree.SubElement(item, "difficult").text = "0"
            box = ElementTree.SubElement(item, "bndbox")
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"),
                                  (x1 + 1, y1 + 1, x2, y2)):
                ElementTree.SubElement(box, key).text = f"{float(value):g}"
        path = root / "Annotations" / f"{name}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        ElementTree.ElementTree(annotation).write(path)


def _write_yolo(root, split, names, images, boxes):
    for name, image, rows in zip(names, images, boxes):
        _save_image(image, root / "images" / split / f"{name}.png")
        height, width = image.shape[:2]
        lines = [f"{int(c)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                 f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
                 for x1, y1, x2, y2, c in _rows(rows)]
        path = root / "labels" / split / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))


# -- reading ---------------------------------------------------------------------------------


def read_image_file(path):
    """uint8 ``(H, W, 1 or 3)`` of an image file; a clear error otherwise."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if image.mode in ("1", "L", "I", "I;16", "LA") else "RGB")
            array = np.asarray(image)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: not an image this app can read ({error})") from None
    return array[..., None] if array.ndim == 2 else array


def read_detection_set(directory, format):
    """Read a folder written in ``format``.

    Returns ``(splits, class_names)`` with ``splits = {split: (images,
    boxes)}``: ``images`` a list of uint8 ``(H, W, C)`` arrays, ``boxes`` a
    list of float32 ``(K, 5)`` rows ``x1, y1, x2, y2, class`` in pixels.
    Only the splits the folder has are returned.
    """
    if format not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}. Received: {format!r}")
    root = pathlib.Path(os.path.expanduser(str(directory)))
    if not root.is_dir():
        raise UsageError(f"data_dir not found or not a folder: {root}")
    reader = {"coco": _read_coco, "voc": _read_voc, "yolo": _read_yolo}[format]
    splits, class_names = reader(root)
    if not splits:
        raise UsageError(f"{root} holds no {format} split ({', '.join(SPLITS)}); "
                         f"expected the layout in apps/data/annotations.py")
    return splits, class_names


def _number(value, path, where):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{path}: {where} is not a number (got {value!r})") from None
    if not np.isfinite(number):
        raise UsageError(f"{path}: {where} is not finite (got {value!r})")
    return number


def _checked_box(box, shape, path, where):
    x1, y1, x2, y2 = box
    height, width = shape[:2]
    if not (0 <= x1 < x2 <= width + 0.5 and 0 <= y1 < y2 <= height + 0.5):
        raise UsageError(f"{path}: {where} box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is empty or "
                         f"outside the {width}x{height} image")
    return [x1, y1, min(x2, width), min(y2, height)]


def _read_coco(root):
    splits, class_names = {}, None
    for split in SPLITS:
        path = root / "annotations" / f"instances_{split}.json"
        if not path.exists():
            continue
        try:
            document = json.loads(path.read_text())
        except ValueError as error:
            raise UsageError(f"{path}: not valid JSON ({error})") from None
        for key in ("images", "annotations", "categories"):
            if not isinstance(document.get(key), list):
                raise UsageError(f"{path}: field {key!r} is missing or not a list")
        try:
            categories = sorted(document["categories"], key=lambda c: c["id"])
            names = [str(c["name"]) for c in categories]
            category_index = {c["id"]: i for i, c in enumerate(categories)}
        except (KeyError, TypeError):
            raise UsageError(f"{path}: every entry of 'categories' needs 'id' and 'name'") from None
        if class_names is None:
            class_names = names
        elif names != class_names:
            raise UsageError(f"{path}: categories differ from the other splits' {class_names}")
        images, rows, index_of = [], [], {}
        for position, entry in enumerate(document["images"]):
            try:
                file_name, image_id = entry["file_name"], entry["id"]
            except (KeyError, TypeError):
                raise UsageError(f"{path}: images[{position}] needs 'id' and 'file_name'") from None
            image = read_image_file(root / "images" / split / file_name)
            index_of[image_id] = len(images)
            images.append(image)
            rows.append([])
        for position, entry in enumerate(document["annotations"]):
            where = f"annotations[{position}]"
            try:
                image_id, category, bbox = entry["image_id"], entry["category_id"], entry["bbox"]
            except (KeyError, TypeError):
                raise UsageError(f"{path}: {where} needs 'image_id', 'category_id' and "
                                 "'bbox'") from None
            if image_id not in index_of:
                raise UsageError(f"{path}: {where}.image_id {image_id!r} is no image's id")
            if category not in category_index:
                raise UsageError(f"{path}: {where}.category_id {category!r} is no category's id")
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise UsageError(f"{path}: {where}.bbox must be [x, y, width, height]")
            x, y, w, h = (_number(v, path, f"{where}.bbox") for v in bbox)
            image = images[index_of[image_id]]
            box = _checked_box((x, y, x + w, y + h), image.shape, path, f"{where}.bbox")
            rows[index_of[image_id]].append(box + [category_index[category]])
        splits[split] = (images, [np.asarray(r, np.float32).reshape(-1, 5) for r in rows])
    return splits, class_names or []


def _voc_number(element, key, path):
    found = element.find(key)
    if found is None or found.text is None:
        raise UsageError(f"{path}: field <{key}> is missing")
    return _number(found.text.strip(), path, f"<{key}>")


def _read_voc(root):
    splits, names = {}, []
    for split in SPLITS:
        listing = root / "ImageSets" / "Main" / f"{split}.txt"
        if not listing.exists():
            continue
        images, rows = [], []
        for line_number, line in enumerate(listing.read_text().splitlines(), start=1):
            stem = line.strip()
            if not stem:
                continue
            path = root / "Annotations" / f"{stem}.xml"
            if not path.exists():
                raise UsageError(f"{listing}: line {line_number} names {stem!r}, but {path} "
                                 "does not exist")
            try:
                annotation = ElementTree.parse(path).getroot()
            except ElementTree.ParseError as error:
                raise UsageError(f"{path}: not valid XML ({error})") from None
            file_name = annotation.findtext("filename") or f"{stem}.jpg"
            image = read_image_file(root / "JPEGImages" / file_name)
            boxes = []
            for position, item in enumerate(annotation.findall("object")):
                name = (item.findtext("name") or "").strip()
                if not name:
                    raise UsageError(f"{path}: <object> {position + 1} has no <name>")
                box = item.find("bndbox")
                if box is None:
                    raise UsageError(f"{path}: <object> {position + 1} has no <bndbox>")
                xmin, ymin, xmax, ymax = (_voc_number(box, key, path)
                                          for key in ("xmin", "ymin", "xmax", "ymax"))
                checked = _checked_box((xmin - 1, ymin - 1, xmax, ymax), image.shape, path,
                                       f"<object> {position + 1}")
                if name not in names:
                    names.append(name)
                boxes.append(checked + [names.index(name)])
            images.append(image)
            rows.append(boxes)
        splits[split] = (images, rows)
    # VOC has no class list: classes are numbered in sorted name order.
    order = sorted(names)
    remap = np.array([order.index(name) for name in names] or [0], np.float32)
    for split, (images, rows) in splits.items():
        fixed = []
        for boxes in rows:
            boxes = np.asarray(boxes, np.float32).reshape(-1, 5)
            if len(boxes):
                boxes[:, 4] = remap[boxes[:, 4].astype(int)]
            fixed.append(boxes)
        splits[split] = (images, fixed)
    return splits, order


def _yolo_names(root):
    path = root / "data.yaml"
    if not path.exists():
        raise UsageError(f"{path} is missing: a YOLO data set names its classes there "
                         "(names: {0: name, ...})")
    import yaml

    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not valid YAML ({error})") from None
    names = document.get("names") if isinstance(document, dict) else None
    if isinstance(names, dict):
        names = [names[key] for key in sorted(names)]
    if not isinstance(names, list) or not names:
        raise UsageError(f"{path}: field 'names' must list the class names")
    return [str(name) for name in names]


def _read_yolo(root):
    class_names = _yolo_names(root)
    splits = {}
    for split in SPLITS:
        image_dir = root / "images" / split
        if not image_dir.is_dir():
            continue
        images, rows = [], []
        for image_path in sorted(p for p in image_dir.iterdir()
                                 if p.suffix.lower() in IMAGE_SUFFIXES):
            image = read_image_file(image_path)
            height, width = image.shape[:2]
            label_path = root / "labels" / split / f"{image_path.stem}.txt"
            boxes = []
            if label_path.exists():
                for line_number, line in enumerate(label_path.read_text().splitlines(), start=1):
                    fields = line.split()
                    if not fields:
                        continue
                    where = f"line {line_number}"
                    if len(fields) != 5:
                        raise UsageError(f"{label_path}: {where} has {len(fields)} fields; "
                                         "expected 'class cx cy w h'")
                    label = _number(fields[0], label_path, f"{where} class")
                    if label != int(label) or not 0 <= label < len(class_names):
                        raise UsageError(f"{label_path}: {where} class {fields[0]} is not in "
                                         f"0..{len(class_names) - 1}")
                    cx, cy, w, h = (_number(v, label_path, where) for v in fields[1:])
                    if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
                        raise UsageError(f"{label_path}: {where} values must be normalised to "
                                         "[0, 1] with w, h > 0")
                    box = [max(0.0, (cx - w / 2) * width), max(0.0, (cy - h / 2) * height),
                           min(width, (cx + w / 2) * width), min(height, (cy + h / 2) * height)]
                    boxes.append(box + [label])
            images.append(image)
            rows.append(np.asarray(boxes, np.float32).reshape(-1, 5))
        splits[split] = (images, rows)
    return splits, class_names
