"""A ``cnn`` architecture as a detection backbone, cut at a chosen stride."""

import keras

from dlsuite.apps.kits.vision.architectures import build_backbone
from dlsuite.apps.errors import UsageError


def feature_extractor(arch, input_shape, width, stride):
    """``arch``'s backbone (``dlsuite.apps.kits.vision.architectures.build_backbone``) up to its last
    feature map at ``stride`` input pixels per cell, so its output is
    ``input_size / stride`` cells a side. The model takes 0..255 pixels."""
    if input_shape[0] % stride or input_shape[1] % stride:
        raise UsageError(f"image_size {input_shape[0]} is not a multiple of stride {stride}")
    backbone = build_backbone(arch, input_shape, width=width,
                              preprocessing=[keras.layers.Rescaling(1.0 / 255.0,
                                                                    dtype="float32",
                                                                    name="rescale")])
    target = (input_shape[0] // stride, input_shape[1] // stride)
    maps = [layer for layer in backbone.layers[1:] if len(layer.output.shape) == 4]
    found = [layer for layer in maps if tuple(layer.output.shape[1:3]) == target]
    if not found:
        strides = sorted({input_shape[0] // layer.output.shape[1] for layer in maps
                          if layer.output.shape[1]})
        raise UsageError(f"{arch} at {input_shape[0]}x{input_shape[1]} has no feature map at "
                         f"stride {stride}; its strides are {strides}")
    return keras.Model(backbone.input, found[-1].output, name=f"{arch}_stride{stride}")
