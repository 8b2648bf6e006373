"""Images for style transfer: bundled photos and paintings, the user's files,
read within a pixel budget, and fitted to the size a run works at.

Sources (DESIGN.md section 5), best first:

* content: the user's file (``--set content=PATH``; a folder of photos in
  ``mode=fast``), else a bundled photo by name: scikit-image's
  ``astronaut`` (the default), ``chelsea``, ``coffee``, ``rocket``,
  scikit-learn's ``china`` and ``flower``, matplotlib's ``grace_hopper``.
* style: the user's file (``--set style=PATH``), else Van Gogh's
  ``starry_night`` from Debian's ``opencv-doc`` when it is here (the
  default; ``make data`` extracts it), else scikit-image's
  ``immunohistochemistry`` stain, a painting-like texture, said in the log.

A file is measured from its header before it is decoded: one over the
pixel budget is refused with the largest size that would fit, before any
memory is spent on it.
"""

import functools
import glob
import math
import os
import warnings

import numpy as np

from dlsuite.apps.data.files import IMAGE_EXTENSIONS
from dlsuite.apps.data.sources import keras_datasets_dir
from dlsuite.apps.errors import UsageError

# Where starry_night.jpg may be: Debian's package installed, or only its
# file extracted by `make data` into the Keras cache.
OPENCV_DOC_DIRS = ("/usr/share/doc/opencv-doc/examples/data",)
OPENCV_DOC_CACHE = "opencv-doc"
OPENCV_DOC_HINT = ("`make data` extracts it (apt-get download opencv-doc; dpkg -x), or pass "
                   "--set style=PATH")

# Bundled photos: name -> (package, loader). The default content is first.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "china", "flower", "grace_hopper")
PAINTINGS = ("starry_night", "immunohistochemistry")


def _pixels_text(pixels):
    return f"{pixels / 1e6:.1f} MP" if pixels >= 1e6 else f"{pixels:,} pixels"


def fitting_size(height, width, max_pixels):
    """The largest ``(height, width)`` of the same aspect within ``max_pixels``."""
    scale = math.sqrt(max_pixels / float(height * width))
    return max(1, int(height * scale)), max(1, int(width * scale))


def check_budget(height, width, max_pixels, what):
    if height * width > max_pixels:
        fit_height, fit_width = fitting_size(height, width, max_pixels)
        raise UsageError(
            f"{what} is {width}x{height} ({_pixels_text(height * width)}), over the pixel budget "
            f"max_pixels={max_pixels} ({_pixels_text(max_pixels)}); shrink it to at most "
            f"{fit_width}x{fit_height} or raise --set max_pixels")


def _to_rgb(image, what):
    """A PIL image -> uint8 ``(H, W, 3)``; gray and palette are expanded, alpha dropped."""
    mode = image.mode
    if mode in ("RGB",):
        array = np.asarray(image)
    elif mode in ("RGBA", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1", "L", "LA", "La"):
        array = np.asarray(image.convert("RGB"))
    elif mode.startswith("I") or mode == "F":  # 16/32-bit gray
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
        array = np.repeat(gray[..., None], 3, axis=-1)
    else:
        bands = len(image.getbands())
        raise UsageError(f"{what} has {bands} channels (PIL mode {mode}); expected a gray, RGB "
                         "or RGBA image")
    return np.ascontiguousarray(array, dtype=np.uint8)


def read_image(path, max_pixels):
    """A file -> uint8 RGB ``(H, W, 3)``; a clear ``UsageError`` when it cannot
    be read, has unusable channels or is over ``max_pixels`` (checked from
    the header, before decoding)."""
    from PIL import Image, UnidentifiedImageError

    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise UsageError(f"image not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                check_budget(height, width, max_pixels, path)
                image.load()
                return _to_rgb(image, path)
    except Image.DecompressionBombError as error:
        raise UsageError(f"{path} is too large to decode safely ({error}); expected at most "
                         f"max_pixels={max_pixels}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UsageError(f"{path} is not an image this app can read (PNG, JPEG, BMP, GIF, "
                         f"TIFF, WebP): {error}") from None


def _opencv_doc_file(name):
    for folder in (*OPENCV_DOC_DIRS, os.path.join(keras_datasets_dir(), OPENCV_DOC_CACHE)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


@functools.lru_cache(maxsize=16)
def bundled_image(name):
    """A bundled photo or painting by name -> (uint8 RGB, source text)."""
    if name == "starry_night":
        path = _opencv_doc_file("starry_night.jpg")
        if path is None:
            raise UsageError("starry_night.jpg of Debian's opencv-doc is not here; "
                             f"{OPENCV_DOC_HINT}")
        return read_image(path, 4096 * 4096), f"starry_night.jpg of Debian opencv-doc ({path})"
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg"), f"scikit-learn load_sample_image('{name}.jpg')"
    if name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return read_image(path, 4096 * 4096), "matplotlib sample data grace_hopper.jpg"
    try:
        import skimage.data
    except ImportError:
        raise UsageError("scikit-image is missing: pip install 'scikit-image~=0.26.0'") from None
    if name in ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry"):
        image = getattr(skimage.data, name)()
        return np.ascontiguousarray(image[..., :3]), f"scikit-image data.{name}()"
    raise UsageError(f"unknown bundled image {name!r}; choose one of "
                     f"{', '.join(PHOTOS + PAINTINGS)} or give a file path")


def is_bundled(name):
    return name in PHOTOS or name in PAINTINGS


def resolve_style(spec, max_pixels):
    """``--set style``: a file, a bundled name, or "" for the default painting."""
    if spec and not is_bundled(spec):
        return read_image(spec, max_pixels), f"your file {spec}"
    if spec:
        return bundled_image(spec)
    if _opencv_doc_file("starry_night.jpg") is not None:
        return bundled_image("starry_night")
    image, source = bundled_image("immunohistochemistry")
    return image, (f"{source}: starry_night.jpg of Debian's opencv-doc is not here "
                   f"({OPENCV_DOC_HINT}), so this painting-like stain is the style")


def resolve_content(spec, max_pixels):
    """``--set content`` for one image: a file, a bundled name, or "" (astronaut)."""
    if spec and not is_bundled(spec):
        if os.path.isdir(os.path.expanduser(spec)):
            raise UsageError(f"content={spec} is a folder; mode=optimize takes one image file "
                             "(a folder of photos is for mode=fast)")
        return read_image(spec, max_pixels), f"your file {spec}"
    return bundled_image(spec or PHOTOS[0])


def resolve_photos(spec, max_pixels):
    """``--set content`` for ``mode=fast``: a folder of photos or one file, or
    "" for the bundled photos. Returns ``([(name, image)], source)``."""
    if not spec:
        photos = [(name, bundled_image(name)[0]) for name in PHOTOS]
        return photos, ("bundled photos: scikit-image astronaut, chelsea, coffee, rocket; "
                        "scikit-learn china, flower; matplotlib grace_hopper")
    if is_bundled(spec):
        return [(spec, bundled_image(spec)[0])], bundled_image(spec)[1]
    folder = os.path.expanduser(spec)
    if os.path.isfile(folder):
        return [(os.path.basename(folder), read_image(folder, max_pixels))], f"your file {spec}"
    if not os.path.isdir(folder):
        raise UsageError(f"content not found: {spec}; expected a folder of photos or an image")
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith(IMAGE_EXTENSIONS + (".tif", ".tiff", ".webp")))
    if not paths:
        raise UsageError(f"no images in {spec}; expected {', '.join(IMAGE_EXTENSIONS)} files")
    photos = [(os.path.relpath(p, folder), read_image(p, max_pixels)) for p in paths]
    return photos, f"your folder {spec} ({len(photos)} photos)"


def resize(image, height, width):
    """uint8 ``(H, W, 3)`` -> uint8 ``(height, width, 3)``, bilinear, antialiased."""
    import tensorflow as tf

    resized = tf.image.resize(image[None].astype(np.float32), (height, width),
                              method="bilinear", antialias=True)[0]
    return np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)


def fit_longer_side(image, size):
    """Resize so the longer side is ``size`` (aspect kept)."""
    height, width = image.shape[:2]
    scale = size / float(max(height, width))
    return resize(image, max(1, round(height * scale)), max(1, round(width * scale)))


def cover(image, height, width):
    """Centre-crop to the aspect of ``(height, width)``, then resize to it."""
    source_height, source_width = image.shape[:2]
    scale = max(height / source_height, width / source_width)
    crop_height = min(source_height, round(height / scale))
    crop_width = min(source_width, round(width / scale))
    top = (source_height - crop_height) // 2
    left = (source_width - crop_width) // 2
    return resize(image[top:top + crop_height, left:left + crop_width], height, width)


def random_crops(photos, count, size, seed):
    """``count`` seeded square crops of ``size``: a photo drawn at random, scaled
    so its shorter side is between ``size`` and twice that, a random window,
    flipped left-right half of the time."""
    rng = np.random.default_rng(seed)
    crops = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        image = photos[rng.integers(len(photos))]
        shorter = min(image.shape[:2])
        scale = rng.uniform(size, 2 * size) / shorter
        height = max(size, round(image.shape[0] * scale))
        width = max(size, round(image.shape[1] * scale))
        scaled = resize(image, height, width)
        top = rng.integers(height - size + 1)
        left = rng.integers(width - size + 1)
        crop = scaled[top:top + size, left:left + size]
        crops[index] = crop[:, ::-1] if rng.random() < 0.5 else crop
    return crops
