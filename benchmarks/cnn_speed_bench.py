"""cnn speed: our ResNet-50 and VGG-16 train steps against keras.applications
and a hand-written PyTorch ResNet-50, float32 and bfloat16, in one process.

    python -m benchmarks cnn_speed            # full: 64x64x3, 1000 classes, batch 32
    python -m benchmarks --quick cnn_speed    # 64x64x3, 10 classes, batch 8 (a smoke run)

The full run uses the setting of issue 3's reference figures (64x64, batch
32), so its images per second compare with them directly.

Like for like: the same input size, batch, classes, optimizer (SGD), loss
(sparse cross-entropy) and precision on both sides; ``jit_compile`` off (XLA
made ResNet-50 7x slower on this CPU, DESIGN.md section 4); our VGG-16 is
built without its dropout, which ``keras.applications`` does not have.
The networks and their parameters are the same; what differs is the code:
our ResNet's batch norms are ``dlsuite.layers.FusedBatchNormalization`` (Keras's
batch norm run as one fused TensorFlow kernel), the change the profiler
pointed to (benchmarks/README.md).
Each Keras variant is timed as the median epoch of one ``fit`` (first epoch
skipped: tracing), 3 steps per epoch. Three rounds each run every variant
of a family once (both precisions, ours and the reference), alternating
which precision and which model go first, and the medians over the rounds'
epochs are compared: absolute speed drifts by 10% or more over minutes on
this VM, so variants compared are measured in the same minutes.

Printed and written to ``benchmarks/results/cnn_speed[_quick].json``:

- time ratio ours / keras.applications per family and precision (target
  <= 1.0);
- mixed_bfloat16 speed-up over float32 (fp32 time / bf16 time) per model;
- achieved FLOP/s of every variant as a fraction of a measured dense matmul
  rate in the same precision (train FLOPs ~ 3x the forward FLOPs that
  TensorFlow's profiler counts on the frozen forward graph);
- PyTorch ResNet-50 and VGG-16 (``benchmarks/cnn_torch_models.py``, in a child process
  started by this run: sharing a process with TensorFlow's thread pools
  made its float32 step 30x slower here) eager and
  ``torch.compile`` (full run only: compiling takes minutes), float32 and
  bf16 autocast, and our time over each
  (skipped with a note when torch is not installed: ``pip install -e
  '.[bench]'``);
- the CPU share other processes used; above 25% the comparison is marked
  not comparable.
"""

import statistics
import sys
import time

import keras
import tensorflow as tf

from dlsuite.apps.kits.vision.architectures import build_resnet50, build_vgg16
from dlsuite.apps.runtime.precision import cpu_has_bf16_units
from benchmarks import torch_child
from benchmarks.common import (CpuShare, comparable, result_name, step_seconds_per_epoch,
                               write_result)

PRECISIONS = ("float32", "mixed_bfloat16")
FULL = {"input_shape": (64, 64, 3), "classes": 1000, "batch": {"resnet50": 32, "vgg16": 32},
        "steps": 3, "epochs": 4, "rounds": 3}
QUICK = {"input_shape": (64, 64, 3), "classes": 10, "batch": {"resnet50": 8, "vgg16": 8},
         "steps": 2, "epochs": 2, "rounds": 1}


def _ours(family, input_shape, classes):
    if family == "resnet50":
        return build_resnet50(input_shape, classes)
    return build_vgg16(input_shape, classes, dropout_rate=0.0)


def _reference(family, input_shape, classes):
    application = keras.applications.ResNet50 if family == "resnet50" else keras.applications.VGG16
    return application(weights=None, input_shape=input_shape, classes=classes)


def keras_step_seconds(builder, family, precision, settings):
    """Seconds per train step of one Keras model, per epoch inside one fit."""
    shape, classes = settings["input_shape"], settings["classes"]
    return step_seconds_per_epoch(lambda: builder(family, shape, classes), shape, classes,
                                  settings["batch"][family], precision, settings["steps"],
                                  settings["epochs"])


def forward_flops(model_builder, family, settings):
    """Forward FLOPs per image, counted by TensorFlow's profiler."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    keras.utils.clear_session()
    model = model_builder(family, settings["input_shape"], settings["classes"])
    spec = tf.TensorSpec((1, *settings["input_shape"]), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def matmul_rate(dtype, size=2048, repeats=5):
    """Measured dense matmul FLOP/s in ``dtype``: the best of ``repeats``
    (the machine's practical peak, which the fractions are relative to)."""
    a = tf.cast(tf.random.uniform((size, size), dtype=tf.float32), dtype)
    b = tf.cast(tf.random.uniform((size, size), dtype=tf.float32), dtype)
    matmul = tf.function(lambda: tf.matmul(a, b))
    matmul().numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul().numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def torch_results(settings, quick, family):
    """Time the PyTorch ``family`` in a child process (see cnn_torch_models)."""
    arguments = {
        "input_shape": settings["input_shape"], "classes": settings["classes"],
        "batch": settings["batch"][family], "steps": settings["steps"], "family": family,
        "repeats": max(2, settings["epochs"] - 1) * settings["rounds"],
        "variants": torch_child.variants(quick),
    }
    return torch_child.run("benchmarks.cnn_torch_models", arguments, f"PyTorch {family}")


def main(argv):
    quick = "--quick" in argv
    settings = QUICK if quick else FULL
    builders = {"ours": _ours, "keras.applications": _reference}
    steps = {family: {precision: {name: [] for name in builders} for precision in PRECISIONS}
             for family in ("resnet50", "vgg16")}
    with CpuShare() as share:
        rates = {"float32": matmul_rate(tf.float32), "mixed_bfloat16": matmul_rate(tf.bfloat16)}
        for family in steps:
            # Rounds interleave everything compared (precisions included, so
            # the bf16 speed-up is not a ratio of two different minutes on a
            # VM whose speed drifts) and alternate who goes first.
            for round_index in range(settings["rounds"]):
                precisions = PRECISIONS if round_index % 2 == 0 else PRECISIONS[::-1]
                for precision in precisions:
                    first = (round_index + PRECISIONS.index(precision)) % 2
                    order = list(builders) if first == 0 else list(builders)[::-1]
                    for name in order:
                        steps[family][precision][name] += keras_step_seconds(
                            builders[name], family, precision, settings)
        torch = {family: torch_results(settings, quick, family) for family in steps}
    flops = {family: forward_flops(_ours, family, settings) for family in steps}
    reference_flops = {family: forward_flops(_reference, family, settings) for family in steps}

    busy = not comparable(share.other)
    print(f"cnn speed ({'quick, ' if quick else ''}input {settings['input_shape']}, "
          f"{settings['classes']} classes, median seconds per train step); other processes "
          f"used {share.other:.0%} of the CPU; bf16 matrix units: {cpu_has_bf16_units()}",
          flush=True)
    report = {"settings": {k: v for k, v in settings.items()}, "quick": quick,
              "other_cpu_share": share.other, "comparable": not busy,
              "cpu_has_bf16_units": cpu_has_bf16_units(),
              "matmul_flops_per_second": rates, "forward_flops_per_image": flops,
              "reference_forward_flops_per_image": reference_flops, "families": {}}
    for family, by_precision in steps.items():
        batch = settings["batch"][family]
        entry = {"batch": batch, "step_seconds": {}, "time_ratio_ours_over_reference": {},
                 "bf16_speedup": {}, "flops_fraction_of_matmul": {},
                 "every_step_seconds": by_precision}
        for precision, by_name in by_precision.items():
            medians = {name: statistics.median(values) for name, values in by_name.items()}
            entry["step_seconds"][precision] = medians
            ratio = medians["ours"] / medians["keras.applications"]
            entry["time_ratio_ours_over_reference"][precision] = ratio
            entry["flops_fraction_of_matmul"][precision] = {
                name: 3 * flops[family] * batch / seconds / rates[precision]
                for name, seconds in medians.items()}
            print(f"  {family} {precision:15s} ours {medians['ours']:.3f} s, "
                  f"keras.applications {medians['keras.applications']:.3f} s: time ratio "
                  f"{ratio:.3f} (target <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'}); "
                  f"ours at {entry['flops_fraction_of_matmul'][precision]['ours']:.1%} of the "
                  f"{precision} matmul rate", flush=True)
        for name in builders:
            speedup = (entry["step_seconds"]["float32"][name]
                       / entry["step_seconds"]["mixed_bfloat16"][name])
            entry["bf16_speedup"][name] = speedup
            print(f"  {family} {name}: mixed_bfloat16 speed-up over float32 {speedup:.2f}x",
                  flush=True)
        report["families"][family] = entry
    for family, results in torch.items():
        if results is None:  # torch is not installed
            continue
        report[f"pytorch_{family}"] = results
        if "error" in results:  # the child failed; run() printed why
            continue
        ours = report["families"][family]["step_seconds"]
        for name, values in results.items():
            if "step_seconds" not in values:
                continue
            precision = "mixed_bfloat16" if "bf16" in name else "float32"
            ratio = ours[precision]["ours"] / values["step_seconds"]
            values["time_ratio_ours_over_torch"] = ratio
            print(f"  PyTorch {family} {name:28s} {values['step_seconds']:.3f} s per step "
                  f"(warm-up steps incl. any compilation {values['warmup_seconds']:.1f} s); ours "
                  f"{precision} / this: {ratio:.2f}", flush=True)
        for kind, speedup in torch_child.bf16_speedups(results, "step_seconds").items():
            results[f"{kind} bf16_speedup"] = speedup
            print(f"  PyTorch {family} {kind}: bf16 speed-up over float32 {speedup:.2f}x",
                  flush=True)
    if busy:
        print("  NOT COMPARABLE: the machine was busy; rerun on an idle machine", flush=True)
    write_result(result_name("cnn_speed", quick), report)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
