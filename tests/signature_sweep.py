"""Feed every signature of an export each kind of bad input, as a server would
receive it, in a process that imports TensorFlow and none of dlsuite.

``python tests/signature_sweep.py EXPORT_DIR EXAMPLES.npz`` (the good
examples keyed ``SIGNATURE__ARGUMENT``) prints one JSON
line: for each signature, argument and case, whether the call raised, the
exception type and its message's first line. Good inputs (the endpoints'
own examples) must work before and after the bad ones: the server survives.
"""

import json
import sys

import numpy as np
import tensorflow as tf

MAX_PIXELS = 4096 * 4096


def bad_inputs(example, spec):
    """``{case: array}`` of bad values for one argument."""
    example = np.asarray(example)
    cases = {}
    if example.dtype.kind in "SUO":
        cases["dtype"] = np.zeros(example.shape, np.int32)
        cases["long-string"] = np.array(["x" * 20_000] * max(1, example.size)).reshape(
            example.shape if example.ndim else ())
    elif example.dtype == np.uint8:
        cases["dtype"] = example.astype(np.float32)
    elif example.dtype.kind == "f":
        cases["dtype"] = example.astype(np.int32)
    else:
        cases["dtype"] = example.astype(np.float32)
    cases["rank"] = example[np.newaxis] if example.ndim else np.stack([example, example])
    if example.ndim:
        cases["empty-batch"] = example[:0]
    if example.dtype.kind == "f":
        for name, value in (("nan", np.nan), ("inf", np.inf)):
            poisoned = example.copy()
            poisoned.reshape(-1)[0] = value
            cases[name] = poisoned
    shape = spec.shape
    if (example.dtype == np.uint8 and example.ndim == 4 and shape.rank in (None, 4)
            and (shape.rank is None or (shape[1] is None and shape[2] is None))):
        cases["huge-image"] = np.zeros((1, 4097, 4096, example.shape[-1]), np.uint8)
    return cases


def sweep(export_dir, examples):
    loaded = tf.saved_model.load(export_dir)
    report = {}
    for name, function in loaded.signatures.items():
        if name == "serving_default":
            continue
        specs = function.structured_input_signature[1]
        good = {key: examples[f"{name}__{key}"] for key in specs}
        function(**{k: tf.constant(v) for k, v in good.items()})  # works before
        results = []
        for argument in sorted(specs):
            for case, value in bad_inputs(good[argument], specs[argument]).items():
                call = {k: tf.constant(v) for k, v in good.items()}
                try:
                    call[argument] = tf.constant(value)
                    outputs = function(**call)
                    tf.nest.map_structure(lambda t: t.numpy(), outputs)
                    results.append([argument, case, None, ""])
                except Exception as error:  # noqa: BLE001 - every refusal is recorded
                    text = getattr(error, "message", None) or str(error)
                    results.append([argument, case, type(error).__name__, " ".join(text.split())])
        function(**{k: tf.constant(v) for k, v in good.items()})  # and after: it survived
        report[name] = results
    return report


if __name__ == "__main__":
    with np.load(sys.argv[2], allow_pickle=False) as archive:
        examples = {key: archive[key] for key in archive.files}
    print(json.dumps(sweep(sys.argv[1], examples)))
