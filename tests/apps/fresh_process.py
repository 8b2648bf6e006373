"""Load an export the way a server does: a new Python process that imports
TensorFlow and none of dlsuite, calls one signature and reports back."""

import json
import os
import subprocess
import sys

_SCRIPT = """
import hashlib, json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
exec(sys.argv[2])  # sets `images` from `loaded`
images = np.asarray(images)
print(json.dumps({"shape": list(images.shape), "dtype": str(images.dtype),
                  "sha256": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest(),
                  "std": float(images.astype("float64").std()),
                  "dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


def images_from_fresh_process(export_dir, call, cwd):
    """Run ``call`` (Python that sets ``images`` from ``loaded``) against the
    SavedModel at ``export_dir`` in a fresh interpreter; its summary (shape,
    dtype, standard deviation, the SHA-256 of the array's bytes, and which
    dlsuite packages were imported)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run([sys.executable, "-c", _SCRIPT, str(export_dir), call],
                               cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
