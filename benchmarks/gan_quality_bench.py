"""gan quality: the generative apps' learning figures.

    python -m benchmarks gan_quality            # full (about an hour on 2 cores)
    python -m benchmarks --quick gan_quality    # digits, tiny, 2 epochs (a smoke run)

* conditional GAN on Fashion-MNIST (MNIST 5k if Debian's copy is missing)
  with a 20-minute wall-clock budget: label accuracy >= 0.90 and classifier
  Inception Score >= 7 (reference classifier trained on the same data);
* DCGAN: Frechet distance per epoch, expected to fall;
* VAE: dev ELBO per epoch and test ELBO at the end.
"""

import tempfile
import time

import keras
import numpy as np

from apps.runtime import training
from benchmarks.common import CpuShare, write_result

QUICK = ["dataset=digits", "limit=300", "latent_dim=8", "quality_samples=100",
         "classifier_epochs=1"]


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the epoch that passes ``seconds``."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def _dataset():
    try:
        from apps.data import load

        load("fashion_mnist", seed=0, limit=10)
        return "fashion_mnist"
    except Exception:  # not installed: the bundled real MNIST subset
        return "mnist5k"


def _train(app, overrides, epochs, budget=None):
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        session, metrics = training.train(
            app, overrides, epochs=epochs, strategy="default", precision_name="float32",
            run_dir=f"{root}/run", verbose=0,
            extra_callbacks=[TimeBudget(budget)] if budget else ())
        return session.run.read_history(), metrics, time.perf_counter() - start


def conditional_gan(quick):
    dataset = "digits" if quick else _dataset()
    overrides = (QUICK + ["generator_filters=4", "discriminator_filters=4"] if quick
                 else [f"dataset={dataset}", "latent_dim=64", "generator_filters=64",
                       "discriminator_filters=64", "quality_samples=1000"])
    history, metrics, seconds = _train("gan", overrides + ["variant=conditional"],
                                       2 if quick else 100, budget=None if quick else 20 * 60)
    quality = metrics["quality"]
    result = {"dataset": dataset, "seconds": seconds, "epochs": len(history),
              "label_accuracy": quality["label_accuracy"],
              "inception_score": quality["inception_score"],
              "classifier_accuracy": quality["classifier_accuracy"],
              "targets": {"label_accuracy": 0.90, "inception_score": 7.0}}
    result["reached"] = (result["label_accuracy"] >= 0.90 and result["inception_score"] >= 7.0)
    print(f"conditional GAN on {dataset}: {len(history)} epochs in {seconds / 60:.1f} min, "
          f"label accuracy {result['label_accuracy']:.3f} (>= 0.90), classifier IS "
          f"{result['inception_score']:.2f} (>= 7): {'reached' if result['reached'] else 'NOT reached'}",
          flush=True)
    return result


def dcgan_frechet(quick):
    dataset = "digits" if quick else _dataset()
    overrides = (QUICK + ["generator_filters=4", "discriminator_filters=4"] if quick
                 else [f"dataset={dataset}", "generator_filters=64", "discriminator_filters=64",
                       "quality_samples=1000"])
    history, metrics, seconds = _train("gan", overrides + ["variant=dcgan"], 2 if quick else 15)
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
    history, metrics, seconds = _train("vae", overrides, 2 if quick else 20)
    dev_elbo = [-row["val_loss"] for row in history if "val_loss" in row]
    test_elbo = metrics["test"]["elbo"]
    print(f"VAE on {dataset}: dev ELBO per epoch {[round(e, 2) for e in dev_elbo]}; "
          f"test ELBO {test_elbo:.2f} nats per image", flush=True)
    return {"dataset": dataset, "dev_elbo_per_epoch": dev_elbo, "test_elbo": test_elbo,
            "seconds": seconds}


def main(argv):
    quick = "--quick" in argv
    with CpuShare() as share:
        payload = {"conditional_gan": conditional_gan(quick), "dcgan": dcgan_frechet(quick),
                   "vae": vae_elbo(quick)}
    payload.update(other_cpu_share=share.other, quick=quick)
    if share.other > 0.25:
        print(f"(the machine was busy: other processes used {share.other:.0%} of the CPU; "
              "the 20-minute budget figure is not comparable)")
    write_result("gan_quality" + ("_quick" if quick else ""), payload)
    return payload


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
