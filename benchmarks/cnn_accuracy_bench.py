"""cnn accuracy: test accuracy within a training-time budget on a 2-core CPU.

Targets (issue 3): Fashion-MNIST resnet18 (width 0.25) >= 0.93 and lenet5 >=
0.89, each within 15 minutes of training; MNIST 5k (resnet18, width 0.25) >=
0.98. Every run goes through the app's normal path (``apps.runtime.training``:
data, model, fit, evaluate, export, report); the benchmark adds one callback,
:class:`TimeBudget`, that anneals the learning rate by a cosine over the
budget's elapsed fraction and stops training when the budget is spent, so
the figure is "accuracy reached in N minutes", whatever the machine's speed.

    python -m benchmarks cnn_accuracy            # full: 15-minute budgets (~50 min)
    python -m benchmarks --quick cnn_accuracy    # 20-second budgets on 1,500 images

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` (``make data``);
when it is missing the quick run uses MNIST 5k in its place and says so, and
the full run fails with the install hint. The CPU share other processes used
is recorded per run: a run on a busy machine is marked not comparable.
"""

import math
import sys
import tempfile
import time

import keras

from apps.runtime import training
from apps.runtime.errors import UsageError
from benchmarks.common import CpuShare, comparable, write_result

BUDGET_SECONDS = 15 * 60
# float32: on CPUs without AMX, mixed_bfloat16 measured slower for these
# small convolutions (benchmarks/cnn_speed_bench.py records the ratio).
PRECISION = "float32"
QUICK_BUDGET_SECONDS = 20

# name: (overrides, target test accuracy)
RUNS = {
    "fashion_mnist_resnet18": (
        ["dataset=fashion_mnist", "arch=resnet18", "width=0.25", "augment=on", "flip=true",
         "rotation=0", "zoom=0.05", "batch_size=128", "learning_rate=0.002"],
        0.93,
    ),
    "fashion_mnist_lenet5": (
        ["dataset=fashion_mnist", "arch=lenet5", "width=1", "augment=on", "flip=true",
         "rotation=0", "zoom=0", "batch_size=64", "learning_rate=0.002"],
        0.89,
    ),
    "mnist5k_resnet18": (
        ["dataset=mnist5k", "arch=resnet18", "width=0.25", "augment=on", "flip=false",
         "rotation=0.03", "zoom=0.08", "batch_size=64", "learning_rate=0.002"],
        0.98,
    ),
}


class TimeBudget(keras.callbacks.Callback):
    """Cosine learning-rate annealing over a wall-clock budget, then stop.

    At each batch the learning rate is ``initial * 0.5 * (1 + cos(pi * f))``
    with ``f`` the fraction of ``seconds`` elapsed since training began
    (floored at 2% of the initial rate); once ``f >= 1`` training stops at
    the end of that batch.
    """

    def __init__(self, seconds, floor=0.02):
        super().__init__()
        self.seconds = seconds
        self.floor = floor
        self.start = None
        self.elapsed = 0.0
        self.steps = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.initial = float(self.model.optimizer.learning_rate.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        fraction = min(1.0, (time.perf_counter() - self.start) / self.seconds)
        factor = max(self.floor, 0.5 * (1.0 + math.cos(math.pi * fraction)))
        self.model.optimizer.learning_rate.assign(self.initial * factor)

    def on_train_batch_end(self, batch, logs=None):
        self.elapsed = time.perf_counter() - self.start
        self.steps += 1
        if self.elapsed >= self.seconds:
            self.model.stop_training = True


def fashion_mnist_available():
    from apps.data import load

    try:
        load("fashion_mnist", seed=0, limit=10)
    except UsageError:
        return False
    return True


def run_one(name, overrides, target, budget, quick, epochs):
    budget_callback = TimeBudget(budget)
    with tempfile.TemporaryDirectory() as root, CpuShare() as share:
        start = time.perf_counter()
        session, metrics = training.train(
            "cnn", overrides + ["patience=0"], epochs=epochs, strategy="default",
            precision_name=PRECISION, run_dir=f"{root}/run",
            extra_callbacks=[budget_callback], verbose=0,
        )
        wall = time.perf_counter() - start
    train_size = len(session.data.x_train)
    batch_size = session.batch_size()[1]
    epochs_done = budget_callback.steps / math.ceil(train_size / batch_size)
    accuracy = metrics["quality"]["test"]["accuracy"]
    reached = accuracy >= target
    result = {
        "overrides": overrides, "test_accuracy": accuracy, "target": target,
        "reached": reached, "training_seconds": budget_callback.elapsed,
        "steps": budget_callback.steps, "epochs": epochs_done, "precision": PRECISION,
        "images_per_second": budget_callback.steps * batch_size / max(budget_callback.elapsed, 1e-9),
        "budget_seconds": budget, "wall_seconds_with_evaluation_and_export": wall,
        "other_cpu_share": share.other, "comparable": comparable(share.other),
    }
    verdict = "reached" if reached else "NOT reached"
    if quick:
        verdict = "(quick smoke run; the target applies to the full run)"
    print(f"cnn {name}: test accuracy {accuracy:.4f} after {budget_callback.elapsed:.0f} s "
          f"of training ({epochs_done:.1f} epochs, {result['images_per_second']:.0f} images/s; "
          f"target >= {target} within {budget:.0f} s: {verdict}); other "
          f"processes used {share.other:.0%} of the CPU"
          + ("" if comparable(share.other) else " -- busy machine, not comparable"),
          flush=True)
    return result


def main(argv):
    quick = "--quick" in argv
    budget = QUICK_BUDGET_SECONDS if quick else BUDGET_SECONDS
    have_fashion = fashion_mnist_available()
    results = {}
    for name, (overrides, target) in RUNS.items():
        overrides = list(overrides)
        if quick:
            overrides.append("limit=1500")
            if not have_fashion and "dataset=fashion_mnist" in overrides:
                overrides[overrides.index("dataset=fashion_mnist")] = "dataset=mnist5k"
                print(f"cnn {name}: Fashion-MNIST is not installed (`make data`); the quick "
                      "run uses MNIST 5k in its place", flush=True)
        results[name] = run_one(name, overrides, target, budget, quick,
                                epochs=3 if quick else 1000)
    write_result("cnn_accuracy" + ("_quick" if quick else ""),
                 {"runs": results, "quick": quick, "fashion_mnist_installed": have_fashion})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
