"""In-graph checks for what an exported signature receives.

A serving process must survive a bad request (DESIGN.md section 2, "Exports
check their input"). Every app's endpoint passes its inputs through these
functions first; each returns the input with its static rank set, and with
a control dependency on the checks, so that the check's message, not a
crash deeper in the graph, is the error a caller sees. Every message names
the signature, what it expects and what it received::

    def classify(images):
        images = signature_inputs.image_batch(images, signature="classify")
        ...

A wrong dtype never reaches these checks: the signature's ``TensorSpec``
refuses it, and ``tf.saved_model.load``'s functions say which specs they
accept. :func:`explain` turns any of these errors into the one line
``dlsuite predict`` prints.
"""

import re

import tensorflow as tf

# The largest image (height x width) a signature takes by default: 4096 x
# 4096, 48 MB of uint8 RGB; above it a request is refused before resizing
# allocates float copies of it.
MAX_IMAGE_PIXELS = 4096 * 4096
# The longest string a text signature takes by default, in bytes.
MAX_STRING_BYTES = 10_000


def _with_rank(tensor, rank, message):
    """Assert ``rank`` and give the result that static rank.

    A saved signature's function may be handed a tensor whose shape differs
    from its ``TensorSpec``, and TensorFlow's graph optimiser folds shape
    checks against the spec's static shape away. So the input is first held
    to its declared shape with ``tf.ensure_shape`` (a run-time check that
    is never folded; its message names the expected shape); where the spec
    leaves the rank open, the assertion's own message is the error. The
    reshape is valid for a tensor of any rank, so that message comes before
    any op that would fail on a wrong rank.
    """
    tensor = tf.convert_to_tensor(tensor)
    if tensor.shape.rank is not None:
        tensor = tf.ensure_shape(tensor, tensor.shape)
    check = tf.debugging.Assert(tf.equal(tf.rank(tensor), rank), [message], summarize=8)
    with tf.control_dependencies([check]):
        if rank == 0:
            return tf.reshape(tensor, [])
        padded = tf.concat([tf.ones([rank], tf.int32), tf.shape(tensor)], axis=0)
        return tf.reshape(tensor, tf.concat([[-1], padded[-(rank - 1):]], axis=0)
                          if rank > 1 else [-1])


def _checked(tensor, conditions):
    """``tensor`` after every ``(condition, message parts)`` holds."""
    checks = [tf.debugging.Assert(condition, parts, summarize=8)
              for condition, parts in conditions]
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def image_batch(images, *, signature, channels=(1, 3), max_pixels=MAX_IMAGE_PIXELS,
                name="images"):
    """A uint8 batch ``(batch, height, width, channels)``: non-empty, each
    side >= 1, ``channels`` one of ``channels``, height x width <=
    ``max_pixels``."""
    wanted = "/".join(str(c) for c in channels)
    expected = (f"{signature} expects {name} as uint8 (batch, height, width, {wanted}) "
                f"with batch >= 1 and height x width <= {max_pixels}")
    images = _with_rank(images, 4, f"{expected}; received a tensor of another rank "
                                   "(add a batch axis for a single image)")
    shape = tf.shape(images)
    channel_ok = tf.reduce_any(tf.equal(shape[3], tf.constant(channels, tf.int32)))
    return _checked(images, [
        (shape[0] > 0, [f"{expected}; received an empty batch"]),
        (tf.logical_and(shape[1] > 0, shape[2] > 0),
         [f"{expected}; received an empty image of shape", shape]),
        (channel_ok, [f"{expected}; received channels", shape[3]]),
        (tf.cast(shape[1], tf.int64) * tf.cast(shape[2], tf.int64) <= max_pixels,
         [f"{expected}; received an image of height x width", shape[1], shape[2]]),
    ])


def float_batch(values, *, signature, name, inner_shape=(), allow_empty=False,
                max_batch=None):
    """A float batch ``(batch, *inner_shape)`` of finite values; ``None`` in
    ``inner_shape`` is any size."""
    inner = ", ".join("any" if size is None else str(size) for size in inner_shape)
    shape_text = f"(batch{', ' + inner if inner else ''})"
    expected = f"{signature} expects {name} as float32 {shape_text} of finite values"
    values = _with_rank(values, 1 + len(inner_shape),
                        f"{expected}; received a tensor of another rank")
    shape = tf.shape(values)
    conditions = []
    if not allow_empty:
        conditions.append((shape[0] > 0, [f"{expected}; received an empty batch"]))
    if max_batch is not None:
        conditions.append((shape[0] <= max_batch,
                           [f"{expected} and batch <= {max_batch}; received batch", shape[0]]))
    for axis, size in enumerate(inner_shape, start=1):
        if size is not None:
            conditions.append((tf.equal(shape[axis], size),
                               [f"{expected}; received shape", shape]))
    conditions.append((tf.reduce_all(tf.math.is_finite(values)),
                       [f"{expected}; received NaN or inf"]))
    return _checked(values, conditions)


def int_batch(values, *, signature, name, low=None, high=None, inner_shape=()):
    """An int batch ``(batch, *inner_shape)`` with every value in ``[low, high)``."""
    inner = ", ".join("any" if size is None else str(size) for size in inner_shape)
    expected = (f"{signature} expects {name} as int32 (batch{', ' + inner if inner else ''})"
                + (f" in [{low}, {high})" if low is not None and high is not None else ""))
    values = _with_rank(values, 1 + len(inner_shape),
                        f"{expected}; received a tensor of another rank")
    conditions = [(tf.shape(values)[0] > 0, [f"{expected}; received an empty batch"])]
    if low is not None:
        conditions.append((tf.reduce_all(values >= low), [f"{expected}; received a value below {low}"]))
    if high is not None:
        conditions.append((tf.reduce_all(values < high),
                           [f"{expected}; received a value >= {high}"]))
    return _checked(values, conditions)


def scalar(value, *, signature, name, low=None, high=None):
    """A scalar, finite where it is a float, within ``[low, high]`` when given."""
    bounds = ""
    if low is not None or high is not None:
        bounds = f" in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    expected = f"{signature} expects {name} as a scalar{bounds}"
    value = _with_rank(value, 0, f"{expected}; received a tensor of rank > 0")
    conditions = []
    if value.dtype.is_floating:
        conditions.append((tf.math.is_finite(value), [f"{expected}; received NaN or inf"]))
    if low is not None:
        conditions.append((value >= low, [f"{expected}; received", value]))
    if high is not None:
        conditions.append((value <= high, [f"{expected}; received", value]))
    return _checked(value, conditions)


def string_batch(texts, *, signature, name="texts", max_bytes=MAX_STRING_BYTES,
                 allow_empty_batch=False):
    """A string batch ``(batch,)`` whose every string is <= ``max_bytes`` long."""
    expected = f"{signature} expects {name} as a 1-D batch of strings of <= {max_bytes} bytes"
    texts = _with_rank(texts, 1, f"{expected}; received a tensor of another rank "
                                 "(wrap one string in a list)")
    conditions = [(tf.reduce_all(tf.strings.length(texts) <= max_bytes),
                   [f"{expected}; received a string of", tf.reduce_max(tf.strings.length(texts)),
                    "bytes"])]
    if not allow_empty_batch:
        conditions.append((tf.size(texts) > 0, [f"{expected}; received an empty batch"]))
    return _checked(texts, conditions)


def string_scalar(text, *, signature, name="text", max_bytes=MAX_STRING_BYTES):
    """One string (a scalar, not a batch) of <= ``max_bytes`` bytes."""
    expected = f"{signature} expects {name} as one string (a scalar) of <= {max_bytes} bytes"
    text = _with_rank(text, 0, f"{expected}; received a tensor of rank > 0")
    size = tf.strings.length(text)
    return _checked(text, [(size <= max_bytes, [f"{expected}; received a string of", size,
                                                "bytes"])])


_NOISE = re.compile(r"\{\{.*?\}\}|\[Op:[^\]]*\]")
_NOT_THE_MESSAGE = ("Graph execution error", "Detected at node", "<stack traces",
                    "[[{{node", "File ")


def explain(error):
    """One readable line for an error a signature raised (for the CLI).

    TensorFlow wraps the message in the failing node's name and a traceback
    of the function; this keeps the message's own sentence.
    """
    text = getattr(error, "message", None) or str(error)
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_NOT_THE_MESSAGE)]
    text = lines[0] if lines else ""
    found = re.search(r"assertion failed: (.*)", text)
    if found:
        # Assert prints each part as [part], separated by spaces; join them
        # back into a sentence (a part may hold brackets of its own).
        text = found.group(1).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1].replace("] [", " ")
    text = " ".join(_NOISE.sub("", text).split())
    return text or type(error).__name__
