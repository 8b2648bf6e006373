"""cnn zoo: every architecture of the ``cnn`` app side by side on Fashion-MNIST.

For each arch: the parameter count at full width in its paper's setting
(224x224x3 inputs and 1,000 classes; LeNet-5: 32x32x1 and 10), the count of the model trained here,
its median train-step time and the test accuracy it reaches after the same
short training budget (``BUDGET_SECONDS`` of ``fit`` after the first step,
whose tracing time grows with depth and is recorded apart; cosine-annealed
by :class:`benchmarks.cnn_accuracy_bench.TimeBudget`), float32, through the
app's normal path. The README's architecture table comes from this file.

    python -m benchmarks cnn_zoo                  # 10 archs x 2 min (~30 min)
    python -m benchmarks --only=vgg16,inception cnn_zoo
    python -m benchmarks --quick cnn_zoo          # 10-second budgets, 1,500 images

The accuracies are "what two minutes on a 2-core CPU buys", not each
family's ceiling: deeper models get fewer steps in the same time.
"""

import sys

import keras

from dlsuite.apps.kits.vision.architectures import ARCHITECTURES, build_model
from benchmarks.cnn_accuracy_bench import fashion_mnist_available, train_within
from benchmarks.common import (cpu_share_note, merged_runs, result_name, selected_runs,
                               write_result)

BUDGET_SECONDS = 120
QUICK_BUDGET_SECONDS = 10
AUGMENTATION = ["augment=on", "flip=true", "rotation=0", "zoom=0.05"]
# arch: its overrides (LeNet-5 at its own width; the others at a quarter).
SETTINGS = {arch: ["width=0.25", "batch_size=128", "learning_rate=0.002"]
            for arch in ARCHITECTURES}
SETTINGS["lenet5"] = ["width=1", "batch_size=64", "learning_rate=0.002"]
# Plain deep stacks without batch norm want a smaller Adam step.
for _arch in ("alexnet", "vgg16", "vgg19"):
    SETTINGS[_arch] = ["width=0.25", "batch_size=128", "learning_rate=0.0005"]


def full_width_parameters(arch):
    """Parameters at width 1 in the paper's setting."""
    shape, classes = ((32, 32, 1), 10) if arch == "lenet5" else ((224, 224, 3), 1000)
    keras.utils.clear_session()
    count = build_model(arch, shape, classes, width=1.0).count_params()
    keras.utils.clear_session()
    return count


def main(argv):
    quick = "--quick" in argv
    dataset = "fashion_mnist" if fashion_mnist_available() else "mnist5k"
    if dataset != "fashion_mnist" and not quick:
        raise SystemExit("cnn_zoo needs Fashion-MNIST: run `make data` (Debian's "
                         "dataset-fashion-mnist) and try again")
    budget = QUICK_BUDGET_SECONDS if quick else BUDGET_SECONDS
    results = {}
    for arch in selected_runs(argv, SETTINGS):
        overrides = [f"dataset={dataset}", f"arch={arch}", *SETTINGS[arch], *AUGMENTATION]
        if quick:
            overrides.append("limit=1500")
        result = train_within(overrides, budget, epochs=2 if quick else 1000,
                              count_tracing=False)
        result["full_width_parameters"] = full_width_parameters(arch)
        results[arch] = result
        print(f"cnn zoo {arch:10s} test accuracy {result['test_accuracy']:.4f} after "
              f"{result['training_seconds']:.0f} s ({result['epochs']:.1f} epochs); "
              f"{result['parameters']:,} parameters here, "
              f"{result['full_width_parameters']:,} at full width in the paper's setting; "
              f"{1000 * result['step_seconds']:.1f} ms per step of {result['batch_size']}; "
              f"{cpu_share_note(result['other_cpu_share'])}", flush=True)
    name = result_name("cnn_zoo", quick)
    write_result(name, {"runs": merged_runs(name, results), "quick": quick,
                        "dataset": dataset, "budget_seconds": budget})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
