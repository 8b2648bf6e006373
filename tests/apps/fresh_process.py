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


_VALUES_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
exec(sys.argv[2])  # sets `result`, a dict of arrays, from `loaded`
def plain(value):
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return [v.decode() if isinstance(v, bytes) else str(v) for v in value.reshape(-1)]
    return value.tolist()
print(json.dumps({"values": {name: plain(value) for name, value in result.items()},
                  "dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


def values_from_fresh_process(export_dir, call, cwd):
    """Run ``call`` (Python that sets ``result``, a dict of arrays, from
    ``loaded``) in a fresh interpreter; the values as lists, and which
    dlsuite modules were imported there."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run([sys.executable, "-c", _VALUES_SCRIPT, str(export_dir), call],
                               cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
