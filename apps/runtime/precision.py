"""Choosing the Keras dtype policy.

``auto`` picks ``mixed_float16`` on GPUs with tensor cores (compute
capability 7.0+), ``mixed_bfloat16`` on CPUs with AMX bf16 tile units, else
``float32``. CPUs with only AVX512-BF16 stay in float32: measured here, their
bf16 matmuls are 2x faster and convolutional nets gain (ResNet-50 1.6-1.7x,
VGG-16 1.8x in ``benchmarks cnn_speed``), but small dense models lose
(``mlp`` 1.12x slower) and bf16 costs precision, so there it is the user's
choice (``--precision mixed_bfloat16``). Models keep their final activation
and their losses in float32 whatever the policy (``dtype="float32"`` on the
last layer).
"""

import functools

import keras
import tensorflow as tf

from dlsuite.apps.errors import UsageError

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


@functools.lru_cache(maxsize=1)
def cpu_has_bf16_units():
    """True on CPUs with any bf16 arithmetic (AMX tiles or AVX512-BF16)."""
    return bool(_cpu_flags() & {"amx_bf16", "avx512_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_has_amx():
    """True on CPUs with AMX bf16 tile units (where auto picks bf16)."""
    return "amx_bf16" in _cpu_flags()


@functools.lru_cache(maxsize=1)
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


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
    return "mixed_bfloat16" if cpu_has_amx() else "float32"


def set_precision(name):
    """Set the global dtype policy; return the concrete policy name."""
    policy = resolve_precision(name)
    keras.config.set_dtype_policy(policy)
    return policy
