"""apps.data.faces: MTCNN crops, and a clear message for an image with no face."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

pytest.importorskip("mtcnn")

from skimage import data as samples  # noqa: E402

from dlsuite.apps.data import faces  # noqa: E402
from dlsuite.apps.data.identities import load_identities  # noqa: E402
from dlsuite.apps.face import FaceApp, FaceConfig  # noqa: E402
from dlsuite.apps.errors import UsageError  # noqa: E402


def _write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(image).numpy())
    return path


def test_the_astronaut_face_is_cropped_and_levelled():
    image = samples.astronaut()
    crop = faces.crop_face(image, (64, 48))
    assert crop.shape == (64, 48, 3) and crop.dtype == np.uint8
    # The crop is the face: skin tones, not the white suit or the flag.
    assert 80 < crop.mean() < 200
    # A rotated photo gives about the same crop (the eyes are levelled).
    rotated = np.asarray(Image.fromarray(image).rotate(12, resample=Image.BILINEAR))
    levelled = faces.crop_face(rotated, (64, 48))
    assert levelled is not None
    assert np.abs(levelled.astype(float) - crop.astype(float)).mean() < 40


def test_no_face_gives_none_and_the_folder_lists_it(tmp_path):
    coins = np.repeat(samples.coins()[..., None], 3, axis=-1)
    assert faces.crop_face(coins, (32, 32)) is None
    astronaut = samples.astronaut()
    for person, images in {"anna": [astronaut, astronaut[:, ::-1]],
                           "bert": [astronaut[40:, 20:], coins]}.items():
        for index, image in enumerate(images):
            _write(tmp_path / person / f"{index}.png", np.ascontiguousarray(image))
    images, labels, names, skipped = faces.load_face_folder(str(tmp_path), (32, 32))
    assert names == ("anna", "bert") and list(labels) == [0, 0, 1]
    assert images.shape == (3, 32, 32, 3)
    assert [path.endswith("bert/1.png") for path in skipped] == [True]


def test_a_folder_without_any_face_is_a_usage_error(tmp_path):
    coins = np.repeat(samples.coins()[..., None], 3, axis=-1)
    for person in ("a", "b"):
        _write(tmp_path / person / "0.png", coins)
    with pytest.raises(UsageError, match="no face found in any image .* detect_faces=off"):
        faces.load_face_folder(str(tmp_path), (32, 32))


def test_identity_split_of_a_face_folder_records_the_images_without_a_face(tmp_path):
    astronaut = samples.astronaut()
    coins = np.repeat(samples.coins()[..., None], 3, axis=-1)
    for person in range(5):
        # Each "person" is the astronaut shifted: enough for the mechanics.
        for index in range(2):
            shifted = np.roll(astronaut, 15 * person + 5 * index, axis=1)
            _write(tmp_path / f"p{person}" / f"{index}.png", shifted)
    _write(tmp_path / "p0" / "coins.png", coins)
    data = load_identities("images", seed=0, data_dir=str(tmp_path), image_size=(24, 24),
                           detect_faces="on")
    assert data.split["faces_detected"] and data.split["images_without_face_count"] == 1
    assert data.split["images_without_face"][0].endswith("coins.png")
    assert data.x_train.shape[1:] == (24, 24, 3)
    assert "MTCNN" in data.source and "1 image(s) without a face" in data.source


def test_predict_on_a_face_run_says_when_there_is_no_face(tmp_path):
    coins = _write(tmp_path / "coins.png", np.repeat(samples.coins()[..., None], 3, axis=-1))
    app = FaceApp()
    app.config = FaceConfig(dataset="images", data_dir=str(tmp_path), detect_faces="on",
                            image_size=32)
    with pytest.raises(UsageError, match="coins.png: no face found"):
        app._read(str(coins))
    face = _write(tmp_path / "face.png", samples.astronaut())
    assert app._read(str(face)).shape == (32, 32, 3)
