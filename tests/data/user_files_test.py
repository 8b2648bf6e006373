"""The user's own files: image folders and CSV files (apps/data/files.py)."""

import numpy as np
import pytest
from PIL import Image

from dlsuite.apps.data import load
from dlsuite.apps.errors import UsageError

# Each class's images are one flat colour, so a label can be read off a pixel.
CLASS_COLOURS = {"cat": (200, 10, 10), "ant": (10, 200, 10), "bee": (10, 10, 200)}
CLASS_GRAYS = {"seven": 30, "one": 220}


def _write_images(root, colours, count, mode):
    for class_name, colour in colours.items():
        (root / class_name).mkdir(parents=True)
        for index in range(count):
            size = (10 + index, 12)  # different sizes: all get resized
            Image.new(mode, size, colour).save(root / class_name / f"{index}.png")
    return root


def test_rgb_image_folder(tmp_path):
    root = _write_images(tmp_path / "faces", CLASS_COLOURS, count=10, mode="RGB")
    data = load("images", data_dir=str(root))
    assert data.class_names == ["ant", "bee", "cat"]  # sorted folder names
    assert data.split["total"] == 30 and data.split["sizes"] == {"train": 24, "dev": 3, "test": 3}
    assert data.x_train.shape == (24, 64, 64, 3) and data.x_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64
    for x, y in (data.train, data.dev, data.test):
        for image, label in zip(x, y):
            expected = CLASS_COLOURS[data.class_names[label]]
            np.testing.assert_array_equal(image[32, 32], expected)
    assert sorted(np.unique(data.y_dev)) == [0, 1, 2]
    assert "your image folder" in data.source and "rgb" in data.source


def test_grayscale_folder_with_image_size(tmp_path):
    root = _write_images(tmp_path / "digits", CLASS_GRAYS, count=5, mode="L")
    data = load(
        "images", data_dir=str(root), image_size=(8, 6), dev_fraction=0.2, test_fraction=0.2
    )
    assert data.class_names == ["one", "seven"]
    assert data.x_train.shape == (6, 8, 6, 1)
    for image, label in zip(data.x_train, data.y_train):
        assert (image == CLASS_GRAYS[data.class_names[label]]).all()


def test_one_rgb_image_makes_the_folder_rgb(tmp_path):
    root = _write_images(tmp_path / "mixed", CLASS_GRAYS, count=5, mode="L")
    Image.new("RGB", (9, 9), (1, 2, 3)).save(root / "one" / "colour.png")
    data = load("images", data_dir=str(root), image_size=4)
    assert data.x_train.shape[1:] == (4, 4, 3)


def test_digits_from_a_user_folder_keeps_native_size(tmp_path):
    root = _write_images(tmp_path / "digits", CLASS_GRAYS, count=5, mode="L")
    data = load("digits", data_dir=str(root))
    assert data.x_train.shape[1:] == (8, 8, 1) and data.class_names == ["one", "seven"]


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "Image folder not found"),
        ("no_class_folders", "No class sub-folders"),
        ("empty_class_folders", "No images under the class sub-folders"),
    ],
)
def test_image_folder_errors(tmp_path, layout, message):
    root = tmp_path / "tree"
    if layout == "no_class_folders":
        root.mkdir()
        Image.new("L", (4, 4)).save(root / "loose.png")
    if layout == "empty_class_folders":
        (root / "cat").mkdir(parents=True)
        (root / "dog" / "notes.txt").parent.mkdir()
        (root / "dog" / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match=message):
        load("images", data_dir=str(root))


def _write_csv(path, text):
    path.write_text(text)
    return str(path)


def _rows(labels, start=0):
    return "".join(f"{index * 0.5},{index},{label}\n" for index, label in enumerate(labels, start))


def test_csv_with_string_labels(tmp_path):
    labels = ["setosa", "virginica", "versicolor"] * 10
    path = _write_csv(tmp_path / "iris.csv", "width,length,label\n" + _rows(labels))
    data = load("csv", data_dir=path)
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    assert data.x_train.dtype == np.float32 and data.x_train.shape == (24, 2)
    assert data.y_train.dtype == np.int64
    for features, label in zip(data.x_train, data.y_train):
        assert data.class_names[label] == labels[int(features[1])]
        assert features[0] == features[1] * 0.5
    assert "your CSV file" in data.source


def test_csv_with_integer_labels_in_the_label_column(tmp_path):
    header_and_rows = "label,a,b\n" + "".join(
        f"{label},{index},{index * 2}\n" for index, label in enumerate([10, 3, 7] * 10)
    )
    data = load("csv", data_dir=_write_csv(tmp_path / "numbers.csv", header_and_rows))
    assert data.class_names == ["3", "7", "10"]  # numeric order, not text order
    for features, label in zip(data.x_train, data.y_train):
        assert data.class_names[label] == str([10, 3, 7][int(features[0]) % 3])
        assert features[1] == 2 * features[0]


def test_csv_without_label_header_uses_last_column(tmp_path):
    path = _write_csv(tmp_path / "data.csv", "x,y,kind\n" + _rows([0, 1] * 10))
    data = load("csv", data_dir=path)
    assert data.class_names == ["0", "1"] and data.input_shape == (2,)


def test_breast_cancer_from_a_user_csv(tmp_path):
    path = _write_csv(tmp_path / "cells.csv", "x,y,label\n" + _rows(["benign", "malignant"] * 10))
    data = load("breast_cancer", data_dir=path)
    assert data.class_names == ["benign", "malignant"] and data.split["total"] == 20


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,label\n1,oops,x\n", r"line 2, column `b`: 'oops' is not a number"),
        ("a,b,label\n", "no data rows"),
        ("label\nx\ny\n", "1 column"),
        ("a,b,label\n1,2,x\n1,2\n", "line 3: 2 values"),
    ],
)
def test_bad_csv(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load("csv", data_dir=_write_csv(tmp_path / "bad.csv", text))


def test_missing_csv(tmp_path):
    with pytest.raises(UsageError, match="CSV file not found: .*absent.csv"):
        load("csv", data_dir=str(tmp_path / "absent.csv"))


def test_unreadable_image_names_the_file(tmp_path):
    root = _write_images(tmp_path / "tree", CLASS_GRAYS, count=3, mode="L")
    (root / "one" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UsageError, match="broken.png"):
        load("images", data_dir=str(root))


def test_truncated_image_is_a_usage_error(tmp_path):
    root = _write_images(tmp_path / "tree", CLASS_GRAYS, count=3, mode="L")
    Image.new("L", (40, 40), 7).save(root / "one" / "cut.png")
    content = (root / "one" / "cut.png").read_bytes()
    (root / "one" / "cut.png").write_bytes(content[:60])  # header intact, pixels cut
    with pytest.raises(UsageError, match="Cannot decode an image under"):
        load("images", data_dir=str(root))


def test_csv_data_dir_that_is_a_folder(tmp_path):
    with pytest.raises(UsageError, match="is a folder. Expected data_dir=FILE.csv"):
        load("csv", data_dir=str(tmp_path))
