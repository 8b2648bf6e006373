"""mlp: learning quality (breast cancer F1, digits accuracy) and the speed
of ``steps_per_execution``, ``jit_compile`` and precision against the defaults.

    python -m benchmarks mlp            # full: 3 seeds, default epochs
    python -m benchmarks --quick mlp    # 1 seed, few epochs (a smoke run)
"""

import statistics
import sys
import tempfile

from dlsuite.apps.runtime import training
from benchmarks.common import CpuShare, EpochTimer, comparable, result_name, write_result

TARGETS = {"breast_cancer": ("f1", 0.97), "digits": ("accuracy", 0.97)}


def quality(seeds, epochs):
    results = {}
    for dataset, (metric, target) in TARGETS.items():
        values = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as root:
                _, metrics = training.train("mlp", [f"dataset={dataset}", f"seed={seed}"],
                                            epochs=epochs, strategy="default",
                                            run_dir=f"{root}/run", verbose=0)
            values.append(metrics["quality"]["test"][metric])
        median = statistics.median(values)
        results[dataset] = {"metric": f"test {metric}", "values": values, "median": median,
                            "target": target, "reached": median >= target}
        print(f"mlp {dataset}: test {metric} median {median:.4f} over seeds {seeds} "
              f"(values {[round(v, 4) for v in values]}; target >= {target}: "
              f"{'reached' if median >= target else 'NOT reached'})", flush=True)
    return results


def epoch_seconds(overrides, precision, epochs, repeats=3):
    """Median epoch time, the median over ``repeats`` separate fits."""
    return statistics.median(_epoch_seconds(overrides, precision, epochs) for _ in range(repeats))


def _epoch_seconds(overrides, precision, epochs):
    with tempfile.TemporaryDirectory() as root:
        session = training.start("mlp", ["dataset=digits", "patience=0"] + overrides,
                                 epochs=epochs, strategy="default", precision_name=precision,
                                 run_dir=f"{root}/run", verbose=0)
        model = training.build(session)
        train, dev = training.datasets(session)
        timer = EpochTimer()
        model.fit(train, validation_data=dev, epochs=epochs, callbacks=[timer], verbose=0)
    return timer.median()


def speed(epochs):
    one = "steps_per_execution=1"
    variants = {
        "baseline (float32, steps_per_execution=1, no XLA)": ([one], "float32"),
        "steps_per_execution=16": (["steps_per_execution=16"], "float32"),
        "jit_compile=True": ([one, "jit_compile=true"], "float32"),
        "steps_per_execution=16 + jit_compile": (["steps_per_execution=16", "jit_compile=true"], "float32"),
        "mixed_bfloat16": ([one], "mixed_bfloat16"),
    }
    with CpuShare() as share:
        seconds = {name: epoch_seconds(overrides, precision, epochs)
                   for name, (overrides, precision) in variants.items()}
    baseline = seconds["baseline (float32, steps_per_execution=1, no XLA)"]
    ratios = {name: value / baseline for name, value in seconds.items()}
    print(f"mlp digits epoch time (median of {epochs - 1} epochs in one fit), other processes "
          f"used {share.other:.0%} of the CPU:")
    for name in variants:
        print(f"  {name:52s} {seconds[name] * 1000:8.1f} ms   time ratio {ratios[name]:.2f}")
    if not comparable(share.other):
        print("  (not comparable: the machine was busy; rerun on an idle machine)")
    return {"epoch_seconds": seconds, "time_ratio_vs_default": ratios,
            "other_cpu_share": share.other, "comparable": comparable(share.other)}


def main(argv):
    quick = "--quick" in argv
    seeds = [1] if quick else [1, 2, 3]
    payload = {"quality": quality(seeds, epochs=5 if quick else None),
               "speed": speed(epochs=3 if quick else 8), "quick": quick}
    write_result(result_name("mlp", quick), payload)
    return payload


if __name__ == "__main__":
    main(sys.argv[1:])
