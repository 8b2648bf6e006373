"""COCO / VOC / YOLO: what the generator writes reads back the same, and a
malformed file is an error naming the file and the line or field."""

import json

import numpy as np
import pytest

from dlsuite.apps.data.annotations import FORMATS, read_detection_set, write_detection_set
from dlsuite.apps.data.detection import load_detection
from dlsuite.apps.errors import UsageError

NAMES = ["zero", "one", "two"]


def _scenes():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 40, 50, 1), dtype=np.uint8)
    boxes = np.full((3, 2, 5), -1.0, np.float32)
    boxes[0, 0] = [2, 3, 20, 30, 2]
    boxes[0, 1] = [25, 5, 49, 40, 0]
    boxes[1, 0] = [0, 0, 50, 40, 1]
    return images, boxes  # the third image has no object


@pytest.mark.parametrize("format", FORMATS)
def test_written_sets_read_back_the_same(tmp_path, format):
    images, boxes = _scenes()
    write_detection_set(tmp_path, {"train": (images, boxes), "test": (images[:1], boxes[:1])},
                        NAMES, format)
    splits, class_names = read_detection_set(tmp_path, format)
    assert sorted(splits) == ["test", "train"]
    read_images, read_boxes = splits["train"]
    if format == "voc":
        # VOC lists no classes: those seen, in sorted order.
        assert class_names == ["one", "two", "zero"]
        remap = {0: 2, 1: 0, 2: 1}
    else:
        assert class_names == NAMES
        remap = {0: 0, 1: 1, 2: 2}
    for image, found, want, picture in zip(images, read_boxes, boxes, read_images):
        np.testing.assert_array_equal(picture, image)
        want = want[want[:, 4] >= 0]
        assert len(found) == len(want)
        np.testing.assert_allclose(found[:, :4], want[:, :4], atol=1e-3)
        assert [int(c) for c in found[:, 4]] == [remap[int(c)] for c in want[:, 4]]


def test_user_folder_loads_as_detection_splits(tmp_path):
    images, boxes = _scenes()
    write_detection_set(tmp_path, {"train": (images, boxes), "val": (images, boxes),
                                   "test": (images, boxes)}, NAMES, "coco")
    data = load_detection(data_dir=str(tmp_path), format="coco", image_size=100)
    assert data.x_train.shape == (3, 100, 100, 1) and data.y_train.shape == (3, 2, 5)
    # 50x40 -> 100x100: x doubles, y x2.5.
    np.testing.assert_allclose(data.y_train[0, 0], [4, 7.5, 40, 75, 2], atol=1e-4)
    assert "coco" in data.source and data.class_names == NAMES


def _yolo_set(tmp_path):
    images, boxes = _scenes()
    write_detection_set(tmp_path, {"train": (images, boxes)}, NAMES, "yolo")
    return tmp_path / "labels" / "train" / "train_000000.txt"


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2", "line 2 has 4 fields"),
    ("7 0.5 0.5 0.2 0.2", "line 2 class 7 is not in 0..2"),
    ("1 0.5 abc 0.2 0.2", "line 2 is not a number"),
    ("1 0.5 0.5 1.4 0.2", "line 2 values must be normalised"),
])
def test_malformed_yolo_label_names_file_and_line(tmp_path, line, message):
    path = _yolo_set(tmp_path)
    path.write_text(path.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(UsageError, match=f"train_000000.txt: {message}"):
        read_detection_set(tmp_path, "yolo")


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("categories"), "field 'categories' is missing"),
    (lambda d: d["annotations"][1].pop("bbox"), r"annotations\[1\] needs"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 3]), r"annotations\[0\].bbox must be"),
    (lambda d: d["annotations"][0].update(category_id=9), r"annotations\[0\].category_id 9"),
    (lambda d: d["annotations"][2].update(bbox=[45, 0, 20, 10]), r"annotations\[2\].bbox box"),
])
def test_malformed_coco_names_file_and_field(tmp_path, change, message):
    images, boxes = _scenes()
    write_detection_set(tmp_path, {"train": (images, boxes)}, NAMES, "coco")
    path = tmp_path / "annotations" / "instances_train.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(UsageError, match=f"instances_train.json: {message}"):
        read_detection_set(tmp_path, "coco")


def test_malformed_voc_names_file_and_field(tmp_path):
    images, boxes = _scenes()
    write_detection_set(tmp_path, {"train": (images, boxes)}, NAMES, "voc")
    path = tmp_path / "Annotations" / "train_000000.xml"
    path.write_text(path.read_text().replace("<xmax>20</xmax>", "<xmax>wide</xmax>"))
    with pytest.raises(UsageError, match="train_000000.xml: <xmax> is not a number"):
        read_detection_set(tmp_path, "voc")
    path.write_text("<annotation><object>")
    with pytest.raises(UsageError, match="train_000000.xml: not valid XML"):
        read_detection_set(tmp_path, "voc")
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("train_000001\nnope\n")
    with pytest.raises(UsageError, match="train.txt: line 2 names 'nope'"):
        read_detection_set(tmp_path, "voc")


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        read_detection_set(tmp_path / "absent", "coco")
    with pytest.raises(UsageError, match="holds no coco split"):
        read_detection_set(tmp_path, "coco")
    with pytest.raises(UsageError, match="data.yaml is missing"):
        read_detection_set(tmp_path, "yolo")
