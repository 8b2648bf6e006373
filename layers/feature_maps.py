"""The input check of feature-map functions (the Gram matrix, the style costs)."""

import keras


def float32_maps(values, function, name, layout="(batch, height, width, channels)"):
    """``values`` as a float32 tensor of rank 4, else a ``ValueError`` naming
    ``function``, the argument ``name`` and the shape received."""
    values = keras.ops.cast(keras.ops.convert_to_tensor(values), "float32")
    if len(values.shape) != 4:
        raise ValueError(f"{function} expects {name} of shape {layout}. "
                         f"Received: {name}.shape={tuple(values.shape)}")
    return values
