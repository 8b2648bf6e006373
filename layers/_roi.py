"""What the region-of-interest layers share (``ROIPooling``, ``ROIAlign``):
argument checks, the ``[features, rois]`` input contract and its shapes."""

import keras


def check_pair(value, name):
    """An int or a pair of ints, each >= 1 -> ``(height, width)``."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 1 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them. "
                         f"Received: {name}={value}")
    return pair


def check_positive(value, name):
    if not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{name} must be a number > 0. Received: {name}={value}")
    return float(value)


def check_input_shapes(layer_name, input_shape):
    """``[features (batch, H, W, C), rois (batch, R, 4)]`` or a clear error."""
    if not (isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
            and isinstance(input_shape[0], (list, tuple))):
        raise ValueError(f"{layer_name} is called on [features, rois]. "
                         f"Received: input_shape={input_shape}")
    features, rois = (tuple(shape) for shape in input_shape)
    if len(features) != 4 or len(rois) != 3 or rois[-1] != 4:
        raise ValueError(f"{layer_name} expects features (batch, height, width, channels) and "
                         f"rois (batch, num_rois, 4). Received: input_shape={input_shape}")
    return features, rois


def split_inputs(layer, inputs):
    """Features in the layer's compute dtype, rois in float32 (coordinates
    keep their precision under mixed policies: bfloat16 has 8 bits of
    mantissa, a pixel's worth at 256)."""
    features, rois = inputs
    return (keras.ops.cast(features, layer.compute_dtype), keras.ops.cast(rois, "float32"))


def output_shape(features, rois, pooled):
    return (features[0], rois[1], pooled[0], pooled[1], features[3])


def as_tensors(inputs):
    """Arrays among ``[features, rois]`` as tensors (the layers turn off
    Keras's input casting, which would also cast the rois to half
    precision, and Keras then takes only tensors as positional inputs)."""
    if not isinstance(inputs, (list, tuple)):
        return inputs
    return [value if keras.backend.is_keras_tensor(value) or keras.ops.is_tensor(value)
            else keras.ops.convert_to_tensor(value) for value in inputs]
