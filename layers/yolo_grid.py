"""The geometry YOLO's target encoder, decoding head and loss share.

A YOLO grid divides an ``image_size = (height, width)`` input into ``grid_size
= (rows, cols)`` cells; every cell holds ``B = len(anchors)`` anchor boxes,
each ``(width, height)`` in input pixels. The ``rows * cols * B`` predictions
of one image are laid out as *slots*::

    slot = (row * cols + col) * B + anchor

A slot's box is parameterised as in YOLOv2 (Redmon and Farhadi 2016,
section 2, "Direct location prediction"): centre offsets ``(tx, ty)`` in
``[0, 1)`` within the cell and log sizes ``(tw, th)`` relative to the
anchor::

    bx = (col + tx) * stride_x        bw = anchor_w * exp(tw)
    by = (row + ty) * stride_y        bh = anchor_h * exp(th)

Boxes are ``"xyxy"`` in input pixels (``keras.utils.bounding_boxes``'s
format name): ``x1, y1, x2, y2``.
"""

import keras


def check_anchors(anchors):
    """``anchors`` as a tuple of ``(width, height)`` float pairs, validated."""
    try:
        pairs = tuple((float(w), float(h)) for w, h in anchors)
    except (TypeError, ValueError):
        raise ValueError(
            "anchors must be a sequence of (width, height) pairs. "
            f"Received: anchors={anchors!r}"
        ) from None
    if not pairs or any(not (w > 0 and h > 0) for w, h in pairs):
        raise ValueError(
            "anchors must be a non-empty sequence of positive (width, height) pairs. "
            f"Received: anchors={anchors!r}"
        )
    return pairs


def check_pair(value, name):
    """``value`` (an int or a pair of ints) as a ``(height, width)``-like pair."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an int or a pair of ints. Received: {name}={value!r}") from None
    if len(pair) != 2 or min(pair) < 1 or any(float(v) != p for v, p in zip(value, pair)):
        raise ValueError(f"{name} must be one or two positive ints. Received: {name}={value!r}")
    return pair


def check_num_classes(num_classes):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1. Received: num_classes={num_classes!r}")
    return num_classes


def strides(image_size, grid_size):
    """``(stride_y, stride_x)``: input pixels per cell."""
    return image_size[0] / grid_size[0], image_size[1] / grid_size[1]


def slot_geometry(image_size, grid_size, anchors):
    """Per-slot ``(col, row, anchor_w, anchor_h)``, each a float32 tensor of
    shape ``(rows * cols * B,)`` in the slot order of the module docstring."""
    rows, cols = grid_size
    count = len(anchors)
    slots = keras.ops.arange(rows * cols * count, dtype="int32")
    cell = slots // count
    anchor = slots % count
    col = keras.ops.cast(cell % cols, "float32")
    row = keras.ops.cast(cell // cols, "float32")
    anchor_sizes = keras.ops.convert_to_tensor(anchors, dtype="float32")
    sizes = keras.ops.take(anchor_sizes, anchor, axis=0)
    return col, row, sizes[:, 0], sizes[:, 1]


def boxes_from_offsets(offsets, log_sizes, image_size, grid_size, anchors):
    """Decode ``(..., slots, 2)`` centre offsets in ``[0, 1)`` and
    ``(..., slots, 2)`` log sizes to ``(..., slots, 4)`` xyxy pixel boxes."""
    stride_y, stride_x = strides(image_size, grid_size)
    col, row, anchor_w, anchor_h = slot_geometry(image_size, grid_size, anchors)
    offsets = keras.ops.cast(offsets, "float32")
    log_sizes = keras.ops.cast(log_sizes, "float32")
    centre_x = (col + offsets[..., 0]) * stride_x
    centre_y = (row + offsets[..., 1]) * stride_y
    # exp of a wild early prediction must not overflow to inf.
    width = anchor_w * keras.ops.exp(keras.ops.minimum(log_sizes[..., 0], 10.0))
    height = anchor_h * keras.ops.exp(keras.ops.minimum(log_sizes[..., 1], 10.0))
    return keras.ops.stack(
        [centre_x - width / 2, centre_y - height / 2, centre_x + width / 2,
         centre_y + height / 2], axis=-1)
