"""Choosing the Keras dtype policy.

``auto`` picks ``mixed_float16`` on GPUs with tensor cores (compute
capability 7.0+), ``mixed_bfloat16`` on CPUs with bf16 matrix units (AMX or
AVX512-BF16), else ``float32``. Models keep their final activation and their
losses in float32 whatever the policy (``dtype="float32"`` on the last layer).
"""

import functools

import keras
import tensorflow as tf

from apps.runtime.errors import UsageError

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@functools.lru_cache(maxsize=1)
def cpu_has_bf16_units():
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return any(flag in flags for flag in ("amx_bf16", "avx512_bf16"))


def resolve_precision(name):
    """Map a ``--precision`` value to a concrete policy name."""
    if name not in PRECISIONS:
        raise UsageError(f"unknown precision {name!r}; valid: {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        if details.get("compute_capability", (0, 0)) >= (7, 0):
            return "mixed_float16"
        return "float32"
    return "mixed_bfloat16" if cpu_has_bf16_units() else "float32"


def set_precision(name):
    """Set the global dtype policy; return the concrete policy name."""
    policy = resolve_precision(name)
    keras.config.set_dtype_policy(policy)
    return policy
