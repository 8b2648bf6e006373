"""gan quality: the generative apps' learning figures.

    python -m benchmarks gan_quality            # full (about 80 minutes on 2 cores)
    python -m benchmarks --only=conditional_gan_mnist5k gan_quality   # one run, others kept
    python -m benchmarks --quick gan_quality    # digits, tiny, 2 epochs (a smoke run)

Runs:

* ``conditional_gan_mnist5k`` and ``conditional_gan_fashion_mnist``: the
  conditional GAN with a 20-minute training budget (the epoch that would end
  past it is not started): label accuracy >= 0.90 and classifier Inception
  Score >= 7, the reference classifier trained on the same data. The issue
  allows either data set. On Fashion-MNIST the reference classifier itself
  labels only ~90% of real test images right (shirt, T-shirt, pullover and
  coat look alike at 28x28), which caps the label accuracy samples can show;
  the ratio of the two is printed too;
* ``dcgan``: Frechet distance per epoch on Fashion-MNIST, expected to fall;
* ``vae``: dev ELBO per epoch and test ELBO at the end, Fashion-MNIST.

Fashion-MNIST runs use MNIST 5k when Debian's copy is missing (``make data``).
"""

import shutil
import time

import keras
import numpy as np

from dlsuite.apps.runtime import training
from benchmarks.common import (CpuShare, RESULTS, comparable, cpu_share_note, merged_runs,
                               result_name, selected_runs, temporary_run, write_result)

SAMPLES = RESULTS / "samples"

QUICK = ["dataset=digits", "limit=300", "latent_dim=8", "quality_samples=100",
         "classifier_epochs=1"]


class EpochBudget(keras.callbacks.Callback):
    """Stop training before an epoch that would end past ``seconds``, at a
    constant learning rate (``cnn_accuracy_bench.TimeBudget`` instead anneals
    the rate over the budget and stops mid-epoch).

    An epoch is expected to take as long as the longest so far; ``elapsed``
    is the training time used (``fit`` from its first to its last epoch).
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.longest = 0.0
        self.elapsed = 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.epoch_start)
        self.elapsed = now - self.start
        if self.elapsed + self.longest > self.seconds:
            self.model.stop_training = True


def _dataset():
    try:
        from dlsuite.apps.data import load

        load("fashion_mnist", seed=0, limit=10)
        return "fashion_mnist"
    except Exception:  # not installed: the bundled real MNIST subset
        return "mnist5k"


def _train(app, overrides, epochs, budget=None, keep_as=None, extra_callbacks=()):
    """Train ``app``; its history, final metrics, wall seconds and training seconds.

    With ``keep_as``, the run's final image grids (``*.png``) are copied to
    ``benchmarks/results/samples/<keep_as>_<grid>.png`` (the README shows them).
    """
    budget_callback = EpochBudget(budget) if budget else None
    with temporary_run("gan_quality_bench") as run_dir:
        start = time.perf_counter()
        session, metrics = training.train(
            app, overrides, epochs=epochs, strategy="default", precision_name="float32",
            run_dir=run_dir, verbose=0,
            extra_callbacks=([budget_callback] if budget_callback else []) + list(extra_callbacks))
        wall = time.perf_counter() - start
        history = session.run.read_history()  # before the run directory goes
        if keep_as:
            SAMPLES.mkdir(parents=True, exist_ok=True)
            for grid in session.run.path.glob("*.png"):
                shutil.copyfile(grid, SAMPLES / f"{keep_as}_{grid.name}")
    return (history, metrics, wall,
            budget_callback.elapsed if budget_callback else None)


def conditional_gan(quick, dataset):
    dataset = "digits" if quick else dataset
    overrides = (QUICK + ["generator_filters=4", "discriminator_filters=4"] if quick
                 else [f"dataset={dataset}", "latent_dim=64", "generator_filters=64",
                       "discriminator_filters=64", "quality_samples=1000"])
    budget = None if quick else 20 * 60
    history, metrics, seconds, training_seconds = _train(
        "gan", overrides + ["variant=conditional"], 2 if quick else 1000, budget=budget,
        keep_as=None if quick else f"conditional_gan_{dataset}")
    quality = metrics["quality"]
    result = {"dataset": dataset, "seconds": seconds, "training_seconds": training_seconds,
              "budget_seconds": budget, "epochs": len(history),
              "label_accuracy": quality["label_accuracy"],
              "inception_score": quality["inception_score"],
              "classifier_accuracy": quality["classifier_accuracy"],
              "label_accuracy_over_classifier_accuracy":
                  quality["label_accuracy"] / quality["classifier_accuracy"],
              "targets": {"label_accuracy": 0.90, "inception_score": 7.0}}
    result["reached"] = (result["label_accuracy"] >= 0.90 and result["inception_score"] >= 7.0)
    print(f"conditional GAN on {dataset}: {len(history)} epochs, "
          f"{(training_seconds or seconds) / 60:.1f} min of training ({seconds / 60:.1f} min "
          f"with the reference classifier and export), label accuracy "
          f"{result['label_accuracy']:.3f} (>= 0.90; the classifier gets "
          f"{result['classifier_accuracy']:.3f} of real test images right), classifier IS "
          f"{result['inception_score']:.2f} (>= 7): "
          f"{'reached' if result['reached'] else 'NOT reached'}", flush=True)
    return result


def dcgan_frechet(quick):
    dataset = "digits" if quick else _dataset()
    overrides = (QUICK + ["generator_filters=4", "discriminator_filters=4"] if quick
                 else [f"dataset={dataset}", "generator_filters=64", "discriminator_filters=64",
                       "quality_samples=1000"])
    history, metrics, seconds, _ = _train("gan", overrides + ["variant=dcgan"],
                                          2 if quick else 15, keep_as=None if quick else "dcgan")
    distances = [row["frechet_distance"] for row in history]
    falling = len(distances) > 1 and distances[-1] < distances[0]
    trend = float(np.polyfit(np.arange(len(distances)), distances, 1)[0]) if len(distances) > 1 else 0.0
    print(f"DCGAN on {dataset}: Frechet distance per epoch "
          f"{[round(d, 2) for d in distances]} (slope {trend:.3f}/epoch; "
          f"{'falling' if falling else 'NOT falling'})", flush=True)
    return {"dataset": dataset, "frechet_distance_per_epoch": distances, "slope": trend,
            "falling": falling, "seconds": seconds}


def vae_elbo(quick):
    dataset = "digits" if quick else _dataset()
    overrides = (QUICK[:2] + ["filters=4", "hidden_units=16", "quality_samples=100",
                              "classifier_epochs=1"] if quick
                 else [f"dataset={dataset}", "patience=0"])
    history, metrics, seconds, _ = _train("vae", overrides, 2 if quick else 20,
                                          keep_as=None if quick else "vae")
    dev_elbo = [-row["val_loss"] for row in history if "val_loss" in row]
    test_elbo = metrics["test"]["elbo"]
    print(f"VAE on {dataset}: dev ELBO per epoch {[round(e, 2) for e in dev_elbo]}; "
          f"test ELBO {test_elbo:.2f} nats per image", flush=True)
    return {"dataset": dataset, "dev_elbo_per_epoch": dev_elbo, "test_elbo": test_elbo,
            "seconds": seconds}


RUNS = {
    "conditional_gan_mnist5k": lambda quick: conditional_gan(quick, "mnist5k"),
    "conditional_gan_fashion_mnist": lambda quick: conditional_gan(quick, _dataset()),
    "dcgan": dcgan_frechet,
    "vae": vae_elbo,
}


def main(argv):
    quick = "--quick" in argv
    names = selected_runs(argv, RUNS)
    if quick:  # both conditional runs use the digits in a smoke run
        names = [n for n in names if n != "conditional_gan_fashion_mnist"]
    runs = {}
    for name in names:
        with CpuShare() as share:
            runs[name] = RUNS[name](quick)
        runs[name].update(other_cpu_share=share.other, comparable=comparable(share.other))
        print(f"  ({name}: {cpu_share_note(share.other)})", flush=True)
    name = result_name("gan_quality", quick)
    payload = {"runs": merged_runs(name, runs), "quick": quick}
    write_result(name, payload)
    return payload


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
