"""fused batch norm: what ``dlsuite.layers.FusedBatchNormalization`` saves per train step.

    python -m benchmarks fused_batch_norm            # ~6 minutes
    python -m benchmarks --quick fused_batch_norm    # tiny shapes (a smoke run)

The same model, built once per variant from the same seed, with its batch
norms run either as TensorFlow's fused kernel (the layer's default) or
through ``keras.layers.BatchNormalization``'s own code (the layer with the
fused path switched off): the only difference. Models: the ``cnn`` app's
resnet18 at width 0.25 on 28x28x1 (the Fashion-MNIST setting of
``cnn_accuracy``) and resnet50 on 64x64x3 (``cnn_speed``'s setting), float32
and mixed_bfloat16. Each variant's step time is the median epoch of one
``fit`` (first epoch left out); the variants alternate over two rounds and
the printed ratio is fused / Keras (below 1: the fused kernel is faster).
"""

import contextlib
import statistics
import sys

from dlsuite.apps.kits.vision.architectures import build_model
from benchmarks.common import (CpuShare, comparable, result_name, step_seconds_per_epoch,
                               write_result)
from dlsuite.layers import FusedBatchNormalization

PRECISIONS = ("float32", "mixed_bfloat16")
# name: (arch, input shape, classes, width, batch)
MODELS = {"resnet18_w0.25_28x28": ("resnet18", (28, 28, 1), 10, 0.25, 128),
          "resnet50_64x64": ("resnet50", (64, 64, 3), 1000, 1.0, 32)}
QUICK_MODELS = {"resnet18_w0.125_16x16": ("resnet18", (16, 16, 1), 10, 0.125, 16)}


@contextlib.contextmanager
def keras_batch_norm():
    """Inside: every FusedBatchNormalization runs Keras's own code."""
    original = FusedBatchNormalization._fusable
    FusedBatchNormalization._fusable = lambda self, inputs, mask: False
    try:
        yield
    finally:
        FusedBatchNormalization._fusable = original


def step_seconds(spec, precision, fused, steps, epochs):
    arch, shape, classes, width, batch = spec
    with contextlib.nullcontext() if fused else keras_batch_norm():
        return step_seconds_per_epoch(lambda: build_model(arch, shape, classes, width=width),
                                      shape, classes, batch, precision, steps, epochs)


def main(argv):
    quick = "--quick" in argv
    models = QUICK_MODELS if quick else MODELS
    steps, epochs, rounds = (2, 2, 1) if quick else (5, 4, 2)
    times = {name: {p: {"fused": [], "keras": []} for p in PRECISIONS} for name in models}
    with CpuShare() as share:
        for name, spec in models.items():
            for precision in PRECISIONS:
                for round_index in range(rounds):
                    order = (True, False) if round_index % 2 == 0 else (False, True)
                    for fused in order:
                        times[name][precision]["fused" if fused else "keras"] += step_seconds(
                            spec, precision, fused, steps, epochs)
    results = {}
    print(f"fused batch norm (median seconds per train step); other processes used "
          f"{share.other:.0%} of the CPU", flush=True)
    for name, by_precision in times.items():
        results[name] = {}
        for precision, by_variant in by_precision.items():
            medians = {v: statistics.median(t) for v, t in by_variant.items()}
            ratio = medians["fused"] / medians["keras"]
            results[name][precision] = {"median_step_seconds": medians, "every_step_seconds":
                                        by_variant, "time_ratio_fused_over_keras": ratio}
            print(f"  {name:22s} {precision:15s} fused {medians['fused'] * 1000:8.1f} ms, Keras "
                  f"{medians['keras'] * 1000:8.1f} ms: time ratio {ratio:.3f}", flush=True)
    if not comparable(share.other):
        print("  NOT COMPARABLE: the machine was busy; rerun on an idle machine", flush=True)
    write_result(result_name("fused_batch_norm", quick),
                 {"models": {k: list(map(str, v)) for k, v in models.items()}, "results": results,
                  "other_cpu_share": share.other, "comparable": comparable(share.other),
                  "quick": quick})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
