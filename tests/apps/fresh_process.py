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


_CALL_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
inputs = np.load(sys.argv[2])
outputs = getattr(loaded, sys.argv[3])(tf.constant(inputs["x"]))
np.savez(sys.argv[4], **{name: value.numpy().astype("S") if value.dtype == tf.string
                         else value.numpy() for name, value in outputs.items()})
print(json.dumps({"dlsuite_modules": sorted(m for m in ("apps", "layers", "losses", "callbacks")
                                            if m in sys.modules)}))
"""


def signature_from_fresh_process(export_dir, signature, x, workdir):
    """Call ``signature`` of the SavedModel at ``export_dir`` on the array ``x``
    in a fresh interpreter that imports none of dlsuite; its outputs as a
    dict of numpy arrays."""
    import numpy as np

    inputs, outputs = os.path.join(workdir, "inputs.npz"), os.path.join(workdir, "outputs.npz")
    np.savez(inputs, x=x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        [sys.executable, "-c", _CALL_SCRIPT, str(export_dir), inputs, signature, outputs],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["dlsuite_modules"] == [], report
    with np.load(outputs) as found:
        return {name: found[name] for name in found.files}


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
