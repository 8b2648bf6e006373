"""Shared measuring tools for the benchmarks.

On a 2-core machine anything else running doubles or triples a figure, so
every measurement records the CPU share other processes used while it ran
and ``comparable`` refuses a comparison when that share is high.
"""

import contextlib
import json
import os
import pathlib
import platform
import shutil
import statistics
import tempfile
import time

import keras

RESULTS = pathlib.Path(__file__).parent / "results"
FAILED_RUNS = pathlib.Path(__file__).resolve().parent.parent / "runs"
MAX_OTHER_CPU_SHARE = 0.25
# Train to the time budget, then keep the best dev epoch: an early-stopping
# patience no budget exhausts never stops a run, and restores the weights
# of the best epoch when the budget does. ``KEEP_BEST_DEV_EPOCH`` is the
# apps' override; peers outside the runtime pass ``NEVER_PATIENT`` to
# ``keras.callbacks.EarlyStopping(restore_best_weights=True)``.
NEVER_PATIENT = 10**9
KEEP_BEST_DEV_EPOCH = f"patience={NEVER_PATIENT}"


def _busy_and_total():
    with open("/proc/stat") as handle:
        fields = [float(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class CpuShare:
    """Context manager: the share of the machine's CPU used by OTHER processes."""

    def __enter__(self):
        self._busy, self._total = _busy_and_total()
        self._own = sum(os.times()[:4])
        return self

    def __exit__(self, *exc):
        busy, total = _busy_and_total()
        ticks = os.sysconf("SC_CLK_TCK")
        own = (sum(os.times()[:4]) - self._own) * ticks
        span = max(total - self._total, 1.0)
        self.other = max(0.0, (busy - self._busy - own) / span)
        return False


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch inside one ``fit`` (no per-fit shut-down cost)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def median(self, skip_first=True):
        values = self.seconds[1:] if skip_first and len(self.seconds) > 1 else self.seconds
        return statistics.median(values)


def repeated_batch(input_shape, classes, batch, seed=0):
    """A ``tf.data`` pipeline repeating one random batch (images in [0, 1],
    sparse labels): model speed without input-pipeline cost."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (batch, *input_shape)).astype("float32")
    labels = rng.integers(0, classes, (batch,))
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def compile_for_timing(model):
    """SGD and sparse cross-entropy, no XLA: the same train step for every
    model a speed benchmark compares."""
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
    return model


@contextlib.contextmanager
def fresh_session(precision):
    """A fresh Keras session (earlier models freed, layer names restarted)
    under the dtype policy ``precision``; float32 again on exit."""
    # clear_session() resets every Keras global, the dtype policy included:
    # it must come before set_dtype_policy, or every variant times float32.
    keras.utils.clear_session()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


def built_under(model, precision):
    """``model``, or ``RuntimeError`` if it was built under another policy."""
    if model.dtype_policy.name != precision:
        raise RuntimeError(f"built a {model.dtype_policy.name} model to time {precision}")
    return model


def step_seconds_per_epoch(build, input_shape, classes, batch, precision, steps, epochs):
    """Seconds per train step of each epoch but the first (tracing) of one
    ``fit`` of ``build()`` under ``precision``, from seed 0."""
    with fresh_session(precision):
        keras.utils.set_random_seed(0)
        model = compile_for_timing(built_under(build(), precision))
        timer = EpochTimer()
        model.fit(repeated_batch(input_shape, classes, batch), epochs=epochs,
                  steps_per_epoch=steps, callbacks=[timer], shuffle=False, verbose=0)
    return [seconds / steps for seconds in timer.seconds[1:]]


def median_time(fn, repeats=7, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_rounds(variants, rounds, measure):
    """``{name: [one figure per round]}``: every round measures each of
    ``variants`` (a dict) once, ``measure(name, value)``, in their order on
    even rounds and in reverse on odd ones, so that a drift of the machine
    does not favour one variant."""
    figures = {name: [] for name in variants}
    for index in range(rounds):
        order = list(variants) if index % 2 == 0 else list(variants)[::-1]
        for name in order:
            figures[name].append(measure(name, variants[name]))
    return figures


def paired_ratio(figures, numerator, denominator):
    """The median over rounds of ``numerator / denominator`` within a round."""
    return statistics.median(a / b for a, b in zip(figures[numerator], figures[denominator]))


def comparable(other_share):
    return other_share <= MAX_OTHER_CPU_SHARE


def cpu_share_note(other_share):
    """How every benchmark prints the CPU share others used while it measured:
    ``other processes used 3% of the CPU``, marked when the figure is not
    comparable (above :data:`MAX_OTHER_CPU_SHARE`)."""
    return (f"other processes used {other_share:.0%} of the CPU"
            + ("" if comparable(other_share) else " -- busy machine, not comparable"))


def result_name(name, quick):
    """A benchmark's results file: ``NAME`` (``NAME_quick`` for ``--quick``,
    which git ignores)."""
    return name + ("_quick" if quick else "")


def record_target(result, value, target):
    """Stamp ``result`` with its target and whether ``value`` reached it."""
    if target is not None and value is not None:
        result.update(target=target, reached=value >= target)
    return result


def selected_runs(argv, runs):
    """The names of ``runs`` picked by ``--only=a,b`` in ``argv`` (all by default)."""
    only = [a.split("=", 1)[1] for a in argv if a.startswith("--only=")]
    if not only:
        return list(runs)
    wanted = [name for value in only for name in value.split(",") if name]
    unknown = sorted(set(wanted) - set(runs))
    if unknown:
        raise SystemExit(f"unknown run(s) {unknown}; valid: {', '.join(runs)}")
    return [name for name in runs if name in wanted]


def merged_runs(name, runs):
    """``runs`` on top of the runs already saved in ``results/<name>.json``.

    A ``--only`` invocation re-measures some runs and keeps the others, so a
    file can hold runs measured on different machines: each run measured now
    (a dict) is stamped with this one (:func:`machine`) unless it carries a
    stamp of its own, and the saved runs keep theirs.
    """
    path = RESULTS / f"{name}.json"
    saved = json.loads(path.read_text()).get("runs", {}) if path.exists() else {}
    here = machine()
    stamped = {key: {"machine": here, **run} if isinstance(run, dict) else run
               for key, run in runs.items()}
    return {**saved, **stamped}


def cpu_model(cpuinfo="/proc/cpuinfo"):
    """The CPU's model name and its matrix units (``platform.processor()`` is
    empty on Linux): a bf16 ratio means something else with AMX than without."""
    try:
        info = pathlib.Path(cpuinfo).read_text()
    except OSError:
        return platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                  if line.startswith("model name")), platform.machine())
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                  if line.startswith("flags")), [])
    units = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    return f"{model} ({', '.join(units) or 'no bf16 units'})"


def machine():
    """Where a result was measured: every run carries it (:func:`merged_runs`
    stamps them), and so does each results file as a whole."""
    return {"cpus": os.cpu_count(), "processor": cpu_model(),
            "python": platform.python_version(), "keras": keras.__version__}


def write_result(name, payload):
    RESULTS.mkdir(exist_ok=True)
    payload = {"machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=float))
    print(f"wrote {path}")
    return path


@contextlib.contextmanager
def kept_if_failed(run_dir, label):
    """Around a benchmark's training in a temporary ``run_dir``: when it
    raises, minutes of training are not thrown away with the directory, the
    run (checkpoints, logs) is copied to ``runs/LABEL_failed`` first."""
    try:
        yield
    except Exception:
        kept = FAILED_RUNS / f"{label}_failed"
        shutil.rmtree(kept, ignore_errors=True)
        if pathlib.Path(run_dir).exists():
            shutil.copytree(run_dir, kept)
            print(f"{label}: failed; its run is kept in {kept}", flush=True)
        raise


@contextlib.contextmanager
def temporary_run(label):
    """A run directory for one benchmark training (a path that does not exist
    yet, in a temporary folder removed afterwards), kept by
    :func:`kept_if_failed` as ``runs/LABEL_failed`` when the training raises."""
    with tempfile.TemporaryDirectory() as root:
        run_dir = f"{root}/run"
        with kept_if_failed(run_dir, label):
            yield run_dir
