"""seqclass: test accuracy on JapaneseVowels and GunPoint.

    python -m benchmarks seqclass                      # both sets, seeds 1, 2, 3
    python -m benchmarks --only=gunpoint seqclass
    python -m benchmarks --quick seqclass              # one seed, 3 epochs, a smoke run

Each run is ``dlsuite train seqclass`` (2 stacked bidirectional GRUs of 64
units, NaN-masked padding, dev drawn from the archive's train part; the
app's defaults with early stopping for JapaneseVowels, frames of 10 steps
and 200 epochs for GunPoint) through the runtime's normal path; the figure is accuracy on the archive's own test set (370 and 150
series), the split published results use. Targets: JapaneseVowels >= 0.98,
GunPoint >= 0.97 (median over three seeds, each seed also drawing its own
dev split and initial weights).
"""

import statistics
import sys
import time

from dlsuite.apps.runtime import training
from benchmarks.common import (CpuShare, comparable, merged_runs, result_name, selected_runs,
                               temporary_run, write_result)

# name: (overrides, target test accuracy)
RUNS = {
    "japanese_vowels": (["dataset=japanese_vowels"], 0.98),
    # 150 steps of one value read as 15 frames of 10 (frame=10), 200 epochs at
    # batch 8 (40 training series: 5 steps an epoch), the last weights kept.
    "gunpoint": (["dataset=gunpoint", "frame=10", "batch_size=8", "epochs=200", "patience=0"],
                 0.97),
}
SEEDS = (1, 2, 3)


def train_once(overrides, seed, quick):
    extra = ["epochs=3"] if quick else []
    with temporary_run("seqclass_bench") as run_dir, CpuShare() as share:
        start = time.perf_counter()
        session, metrics = training.train(
            "seqclass", overrides + [f"seed={seed}"] + extra, strategy="default",
            precision_name="float32", run_dir=run_dir, verbose=0)
        seconds = time.perf_counter() - start
        rows = session.run.read_history()
    return {"seed": seed, "test_accuracy": metrics["quality"]["test"]["accuracy"],
            "test_macro_f1": metrics["quality"]["test"]["f1"],
            "dev_accuracy": metrics["quality"]["dev"]["accuracy"],
            "epochs": len(rows), "seconds": seconds, "other_cpu_share": share.other,
            "comparable": comparable(share.other), "source": session.data.source}


def main(argv):
    quick = "--quick" in argv
    results = {}
    for name in selected_runs(argv, RUNS):
        overrides, target = RUNS[name]
        runs = [train_once(overrides, seed, quick) for seed in (SEEDS[:1] if quick else SEEDS)]
        accuracy = statistics.median(run["test_accuracy"] for run in runs)
        results[name] = {"runs": runs, "median_test_accuracy": accuracy, "target": target,
                         "reached": accuracy >= target, "overrides": overrides}
        accuracies = ", ".join(f"{run['test_accuracy']:.4f}" for run in runs)
        f1s = ", ".join(f"{run['test_macro_f1']:.4f}" for run in runs)
        verdict = "reached" if accuracy >= target else "NOT reached"
        print(f"seqclass {name}: test accuracy {accuracies} (median {accuracy:.4f}; target >= "
              f"{target}: {verdict}{', quick smoke run' if quick else ''}); macro-F1 {f1s}; "
              f"{statistics.median(run['seconds'] for run in runs):.0f} s a run", flush=True)
    name = result_name("seqclass", quick)
    write_result(name, {"runs": merged_runs(name, results), "quick": quick})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
