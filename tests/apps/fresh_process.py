"""Load an export the way a server does: a new Python process that imports
TensorFlow and none of dlsuite, calls one signature and reports back."""

import json
import os
import subprocess
import sys

_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
exec(sys.argv[2])  # sets `images` from `loaded`
images = np.asarray(images)
print(json.dumps({"shape": list(images.shape), "dtype": str(images.dtype),
                  "std": float(images.astype("float64").std()),
                  "dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


def images_from_fresh_process(export_dir, call, cwd):
    """Run ``call`` (Python that sets ``images`` from ``loaded``) against the
    SavedModel at ``export_dir`` in a fresh interpreter; its summary."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run([sys.executable, "-c", _SCRIPT, str(export_dir), call],
                               cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


_VALUE_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
exec(sys.argv[2])  # sets `value` (str, number, list or numpy array) from `loaded`
if isinstance(value, bytes):
    value = value.decode("utf-8")
elif isinstance(value, np.ndarray):
    value = value.tolist()
print(json.dumps({"value": value,
                  "dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


def value_from_fresh_process(export_dir, call, cwd):
    """Run ``call`` (Python that sets ``value`` from ``loaded``) against the
    SavedModel at ``export_dir`` in a fresh interpreter; ``{"value": ...,
    "dlsuite_modules": [...]}`` with the value as JSON gives it back."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run([sys.executable, "-c", _VALUE_SCRIPT, str(export_dir), call],
                               cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
