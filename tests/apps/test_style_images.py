"""Reading style and content images: channels, the pixel budget before decoding,
bundled sources, crops."""

import numpy as np
import pytest
from PIL import Image

from dlsuite.apps.errors import UsageError
from dlsuite.apps.style import images


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "I;16"])
def test_any_gray_palette_or_alpha_image_reads_as_rgb(tmp_path, mode):
    gray = np.tile(np.arange(0, 250, 10, dtype="uint8"), (5, 1))
    if mode == "I;16":
        image = Image.fromarray(gray.astype("uint16") * 257)
    else:
        image = Image.fromarray(gray).convert(mode)
    path = tmp_path / f"image.{'tif' if mode in ('CMYK', 'I;16') else 'png'}"
    image.save(path)
    rgb = images.read_image(path, 10_000)
    assert rgb.shape == (5, 25, 3) and rgb.dtype == np.uint8
    if mode in ("L", "LA", "RGBA", "I;16"):
        np.testing.assert_array_equal(rgb[..., 1], gray)


def test_an_image_with_unusable_channels_is_refused(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "bands.tif", np.zeros((8, 8, 5), "uint8"), planarconfig="contig")
    with pytest.raises(UsageError, match="bands.tif (has 5 channels|is not an image this app)"):
        images.read_image(tmp_path / "bands.tif", 10_000)


def test_the_budget_is_checked_from_the_header_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((300, 400, 3), "uint8")).save(tmp_path / "large.png")

    def no_decoding(self):
        raise AssertionError("decoded an image over the budget")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(UsageError, match=r"is 400x300 \(120,000 pixels\), over the pixel budget "
                                         r"max_pixels=30000 .* at most 200x150"):
        images.read_image(tmp_path / "large.png", 30_000)


def test_default_style_says_which_painting_it_used(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "OPENCV_DOC_DIRS", ())
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    image, source = images.resolve_style("", 4096 * 4096)
    assert "immunohistochemistry" in source and "opencv-doc is not here" in source
    assert image.ndim == 3 and image.shape[-1] == 3
    with pytest.raises(UsageError, match="starry_night.jpg of Debian's opencv-doc is not here"):
        images.bundled_image.__wrapped__("starry_night")


def test_fitting_and_crops():
    photo = np.random.default_rng(0).integers(0, 256, (60, 90, 3)).astype("uint8")
    assert images.fit_longer_side(photo, 30).shape == (20, 30, 3)
    assert images.cover(photo, 16, 16).shape == (16, 16, 3)
    crops = images.random_crops([photo], 5, 16, seed=1)
    np.testing.assert_array_equal(crops, images.random_crops([photo], 5, 16, seed=1))
    assert crops.shape == (5, 16, 16, 3) and not np.array_equal(crops[0], crops[1])
