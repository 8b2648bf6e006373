"""SavedModel export with named signatures, checked after reloading.

Each app describes its signatures as ``Endpoint``s (what a user has in, what
a user wants out, pre- and post-processing inside the graph). The runtime
writes them with ``keras.export.ExportArchive`` (the first endpoint is also
``serving_default``), reloads the SavedModel with ``tf.saved_model.load`` and
checks every signature against the live Keras model on the endpoint's
example batch, then measures the first signature's batch-1 latency.

The live side is compiled as the SavedModel is (``tf.function`` with the
endpoint's input signature), as ``fit``, ``evaluate`` and the report's
figures are: an eager call runs other kernels, which round otherwise (under
bfloat16 by up to 0.125 in a backbone feature, enough to reorder a
detector's close scores), a difference of execution modes, not of the
export. A layer that computes otherwise in eager and compiled code is
caught by its own test (``tests/layers``).
"""

import time

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime import atomic

# How far a reloaded signature may be from the live model, by compute dtype:
# float32 graphs agree to rounding; half-precision kernels are fused and
# reordered differently in eager and graph mode, so they get their own eps.
TOLERANCE = {"float32": 1e-5, "float16": 5e-3, "bfloat16": 2e-2}


def export_tolerance():
    return TOLERANCE.get(keras.config.dtype_policy().compute_dtype, 1e-5)


def write_export(model, endpoints, path):
    """Write the SavedModel to ``path``, swapped in whole (never half written)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint in endpoints:
        archive.add_endpoint(endpoint.name, endpoint.fn, endpoint.input_signature)
    with atomic.replacing_dir(path) as partial:
        archive.write_out(str(partial), verbose=False)


def _flat_numpy(outputs):
    return [np.asarray(value) for value in tf.nest.flatten(outputs)]


def _output_names(outputs):
    """Names in ``tf.nest.flatten`` order: a dict's sorted keys, else indices."""
    if isinstance(outputs, dict):
        return [str(key) for key in sorted(outputs)]
    return [str(index) for index in range(len(tf.nest.flatten(outputs)))]


def _discrete_difference(endpoint, name, want, have):
    """Where an integer output differs: how many elements, in how many of
    the example's rows, and the first few values side by side."""
    where = np.argwhere(want != have)
    rows = len(np.unique(where[:, 0])) if want.ndim and len(where) else 1
    first = [f"{tuple(int(i) for i in index)}: live {want[tuple(index)]}, "
             f"reloaded {have[tuple(index)]}" for index in where[:3]]
    return (f"export check: {endpoint.name} output {name!r} differs in {len(where)} of "
            f"{want.size} elements ({rows} of {want.shape[0] if want.ndim else 1} examples); "
            + "; ".join(first))


def check_export(loaded, endpoints, tolerance=None):
    """Compare each reloaded signature with the live function; return the
    largest absolute difference per endpoint.

    An output element passes when it differs by at most ``tolerance`` times
    ``max(1, |live value|)``: absolute for probabilities and unit-scale
    values, relative for large ones (boxes in pixels, where float32's own
    spacing at 128 is 7.6e-6 and two traces of the same graph may differ
    by a few of those).
    """
    tolerance = export_tolerance() if tolerance is None else tolerance
    differences = {}
    for endpoint in endpoints:
        args = [tf.constant(value) for value in endpoint.example]
        live = tf.function(endpoint.fn, input_signature=endpoint.input_signature)(*args)
        expected, names = _flat_numpy(live), _output_names(live)
        got = _flat_numpy(getattr(loaded, endpoint.name)(*args))
        if len(expected) != len(got):
            raise RuntimeError(f"export check: {endpoint.name} returned {len(got)} outputs, "
                               f"the live model {len(expected)}")
        worst = excess = 0.0
        for name, want, have in zip(names, expected, got):
            if want.shape != have.shape:
                raise RuntimeError(f"export check: {endpoint.name} output shape "
                                   f"{have.shape} != live {want.shape}")
            if want.dtype.kind in "fc":
                want = want.astype(np.float64)
                # NaN where the live model has NaN is agreement; anywhere
                # else it is the largest difference there is.
                difference = np.abs(want - have)
                difference = np.where(np.isnan(want) & np.isnan(have), 0.0,
                                      np.nan_to_num(difference, nan=np.inf))
                worst = max(worst, float(np.max(difference, initial=0)))
                excess = max(excess, float(np.max(difference / np.maximum(1.0, np.abs(want)),
                                                  initial=0)))
            elif want.dtype == np.uint8 and tolerance > TOLERANCE["float32"]:
                # Images quantised from half-precision outputs may round either way.
                if np.max(np.abs(want.astype(np.int16) - have), initial=0) > 1:
                    raise RuntimeError(f"export check: {endpoint.name} uint8 output differs by > 1")
            elif not np.array_equal(want, have):
                raise RuntimeError(_discrete_difference(endpoint, name, want, have))
        if not excess <= tolerance:
            raise RuntimeError(f"export check: {endpoint.name} differs from the Keras model by "
                               f"{worst:.3g} ({excess:.3g} relative to max(1, |value|)) > "
                               f"{tolerance}")
        differences[endpoint.name] = worst
    return differences


def batch_one_latency_ms(loaded, endpoint, repeats=30, warmup=3):
    """Median wall time (ms) of one batch-1 call of the reloaded signature
    (scalar arguments, such as a truncation psi, are passed as they are)."""
    args = [tf.constant(value[:1] if np.ndim(value) else value) for value in endpoint.example]
    signature = getattr(loaded, endpoint.name)
    for _ in range(warmup):
        signature(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), signature(*args))
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.median(times))


def export_model(session, verbose=1):
    """Export the session's model, reload it, check it, time it."""
    endpoints = session.app.export_endpoints(session.model, session.config, session.data)
    write_export(session.model, endpoints, session.run.export)
    loaded = tf.saved_model.load(str(session.run.export))
    differences = check_export(loaded, endpoints)
    latency = batch_one_latency_ms(loaded, endpoints[0])
    budget = session.config.max_latency_ms
    info = {
        "path": str(session.run.export),
        "signatures": [endpoint.name for endpoint in endpoints],
        "max_abs_difference": differences,
        "latency_ms_batch1": latency,
        "max_latency_ms": budget or None,
        "latency_ok": (latency <= budget) if budget else None,
    }
    if verbose:
        verdict = "" if not budget else (" (within" if latency <= budget else " (OVER") + f" {budget} ms budget)"
        print(f"export: {session.run.export} signatures {info['signatures']}, matches the Keras "
              f"model (max diff {max(differences.values()):.2g}); batch-1 latency "
              f"{latency:.2f} ms{verdict}", flush=True)
    return info
