"""stylegan: StyleGAN against DCGAN on Fashion-MNIST 32x32 in the same
training time, side by side in one run, and the StyleGAN step's cost.

    python -m benchmarks stylegan                 # full: 30 + 30 min of training, then ~8 min of step timing
    python -m benchmarks --only=speed stylegan    # the step times alone
    python -m benchmarks --quick stylegan         # digits 8x8, tiny widths, 2 epochs (a smoke run)

Runs:

* ``quality``: ``dlsuite train gan`` with ``variant=dcgan`` (filters 64, as
  ``gan_quality``'s DCGAN) and then ``variant=stylegan`` (the app's
  defaults), each for the same 30 minutes of training time (the epoch that
  would end past it is not started; the reference classifier, trained
  before ``fit``, is not counted), on the same data (Fashion-MNIST resized
  to 32x32, ``image_size=32``; MNIST 5k when Debian's copy is missing) and
  with the same evaluator: the Frechet distance in the reference
  classifier's feature space on 1,000 samples, every epoch. Target: the
  StyleGAN's final distance below the DCGAN's. Both curves (distance
  against training minutes) go to
  ``results/samples/stylegan_vs_dcgan_frechet.png``, and the StyleGAN's
  final grids (samples, style mixing, truncation sweep) beside it.
* ``speed``: train-step time of both models at 32x32, batch 64, on the
  same 1,024 real images, median epoch (the first, tracing, skipped) inside
  one ``fit``, over rounds that interleave the variants (order reversed
  every other round); ratios are medians of the within-round ratios. Also
  timed: the StyleGAN without the R1 penalty and with it on every step,
  which give the lazy penalty's share of the step (``r1_interval = 16``),
  and both models under mixed_bfloat16, beside the bf16 / float32 matmul
  rate ratio measured in the same process.

Every run records the CPU share other processes used while it ran.
"""

import statistics
import sys

import keras
import tensorflow as tf

from dlsuite.apps import registry
from dlsuite.apps.runtime import config as config_lib
from benchmarks.common import (CpuShare, EpochTimer, comparable, fresh_session, interleaved_rounds,
                               merged_runs, paired_ratio, result_name, selected_runs, write_result)
from benchmarks.gan_quality_bench import SAMPLES, _dataset, _train

BUDGET_SECONDS = 30 * 60
DCGAN = ["variant=dcgan", "generator_filters=64", "discriminator_filters=64"]
STYLEGAN = ["variant=stylegan"]
TINY = ["dataset=digits", "limit=300", "latent_dim=8", "quality_samples=100",
        "classifier_epochs=1", "generator_filters=4", "discriminator_filters=4", "w_dim=8",
        "mapping_layers=2", "style_filters=4", "style_max_filters=8"]


class Clock(keras.callbacks.Callback):
    """Training minutes at each epoch's end (from the start of ``fit``)."""

    def on_train_begin(self, logs=None):
        import time

        self.now = time.perf_counter
        self.start = self.now()
        self.minutes = []

    def on_epoch_end(self, epoch, logs=None):
        self.minutes.append((self.now() - self.start) / 60.0)


def _common(quick):
    if quick:
        return list(TINY)
    return [f"dataset={_dataset()}", "image_size=32", "quality_samples=1000"]


def train_one(name, overrides, quick):
    clock = Clock()
    history, metrics, seconds, training_seconds = _train(
        "gan", _common(quick) + overrides, 2 if quick else 100_000,
        budget=None if quick else BUDGET_SECONDS,
        keep_as=None if quick else f"stylegan_bench_{name}", extra_callbacks=[clock])
    distances = [row["frechet_distance"] for row in history]
    print(f"  {name}: {len(history)} epochs in {(training_seconds or seconds) / 60:.1f} min of "
          f"training; Frechet distance per epoch {[round(d, 2) for d in distances]}", flush=True)
    return {"overrides": _common(quick) + overrides, "epochs": len(history),
            "minutes": clock.minutes, "frechet_distance_per_epoch": distances,
            "final_frechet_distance": metrics["quality"]["frechet_distance"],
            "best_frechet_distance": min(distances),
            "inception_score": metrics["quality"]["inception_score"],
            "class_entropy": metrics["quality"]["class_entropy"],
            "training_seconds": training_seconds, "seconds": seconds}


def plot_curves(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name in ("dcgan", "stylegan"):
        run = result[name]
        axes.plot(run["minutes"], run["frechet_distance_per_epoch"], marker="o",
                  label=f"{name} (final {run['final_frechet_distance']:.2f})")
    axes.set_xlabel("training minutes (2-core CPU)")
    axes.set_ylabel("Frechet distance (reference classifier)")
    axes.set_yscale("log")
    axes.set_title("Fashion-MNIST 32x32: DCGAN vs StyleGAN")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def quality(quick):
    result = {}
    for name, overrides in (("dcgan", DCGAN), ("stylegan", STYLEGAN)):
        with CpuShare() as share:
            result[name] = train_one(name, overrides, quick)
        result[name].update(other_cpu_share=share.other, comparable=comparable(share.other))
    dcgan, stylegan = (result[n]["final_frechet_distance"] for n in ("dcgan", "stylegan"))
    result["stylegan_below_dcgan"] = stylegan < dcgan
    result["budget_seconds"] = None if quick else BUDGET_SECONDS
    print(f"quality: final Frechet distance StyleGAN {stylegan:.2f} vs DCGAN {dcgan:.2f} "
          f"(target: StyleGAN below: {'met' if stylegan < dcgan else 'NOT met'}); other "
          f"processes used {result['dcgan']['other_cpu_share']:.0%} / "
          f"{result['stylegan']['other_cpu_share']:.0%} of the CPU", flush=True)
    if not quick:
        SAMPLES.mkdir(parents=True, exist_ok=True)
        plot_curves(result, SAMPLES / "stylegan_vs_dcgan_frechet.png")
    return result


# -- speed --------------------------------------------------------------------------------
SPEED_VARIANTS = {
    "dcgan float32": (DCGAN, "float32"),
    "stylegan float32": (STYLEGAN, "float32"),
    "stylegan float32, no R1": (STYLEGAN + ["r1_gamma=0"], "float32"),
    "stylegan float32, R1 every step": (STYLEGAN + ["r1_interval=1"], "float32"),
    "dcgan mixed_bfloat16": (DCGAN, "mixed_bfloat16"),
    "stylegan mixed_bfloat16": (STYLEGAN, "mixed_bfloat16"),
}


def _speed_data(quick):
    app = registry.get_app("gan")
    return app.make_datasets(config_lib.apply_overrides(app.default_config(),
                                                        _common(quick) + STYLEGAN))


def epoch_seconds(overrides, policy, data, quick, steps, epochs):
    app = registry.get_app("gan")
    config = config_lib.apply_overrides(app.default_config(), _common(quick) + overrides)
    with fresh_session(policy):
        keras.utils.set_random_seed(0)
        model = app.build_model(config, data)
        batch = config.batch_size
        images = data.x_train[:steps * batch]
        pipeline = tf.data.Dataset.from_tensor_slices(images).batch(batch).cache().prefetch(2)
        timer = EpochTimer()
        model.fit(pipeline, epochs=epochs, callbacks=[timer], verbose=0, shuffle=False)
    return timer.median() / steps


def speed(quick, argv):
    from benchmarks.cnn_speed_bench import matmul_rate

    data = _speed_data(quick)
    rounds, steps, epochs = (1, 4, 2) if quick else (3, 16, 3)
    rounds = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--repeats=")), rounds)
    with CpuShare() as share:
        seconds = interleaved_rounds(
            SPEED_VARIANTS, rounds,
            lambda name, variant: epoch_seconds(*variant, data, quick, steps, epochs))
        matmul_ratio = matmul_rate(tf.bfloat16) / matmul_rate(tf.float32)

    def paired(numerator, denominator):
        return paired_ratio(seconds, numerator, denominator)

    median = {name: statistics.median(values) for name, values in seconds.items()}
    interval = registry.get_app("gan").default_config().r1_interval
    every = median["stylegan float32, R1 every step"] - median["stylegan float32, no R1"]
    result = {
        "step_seconds": seconds, "median_step_seconds": median,
        "stylegan_over_dcgan_float32": paired("stylegan float32", "dcgan float32"),
        "stylegan_over_dcgan_bf16": paired("stylegan mixed_bfloat16", "dcgan mixed_bfloat16"),
        "penalty_step_extra_seconds": every,
        "lazy_penalty_share": (every / interval) / median["stylegan float32"],
        "lazy_penalty_share_measured": 1.0 - paired("stylegan float32, no R1", "stylegan float32"),
        "r1_interval": interval,
        "stylegan_bf16_speedup": paired("stylegan float32", "stylegan mixed_bfloat16"),
        "dcgan_bf16_speedup": paired("dcgan float32", "dcgan mixed_bfloat16"),
        "matmul_bf16_over_float32": matmul_ratio,
        "image_shape": list(data.input_shape), "batch": 64, "rounds": rounds,
        "other_cpu_share": share.other, "comparable": comparable(share.other),
    }
    print(f"speed at {data.input_shape}, batch 64, medians over {rounds} round(s); other "
          f"processes used {share.other:.0%} of the CPU")
    for name, value in median.items():
        print(f"  {name:34s} {value * 1000:8.1f} ms/step")
    print(f"  StyleGAN / DCGAN step time: {result['stylegan_over_dcgan_float32']:.2f} float32, "
          f"{result['stylegan_over_dcgan_bf16']:.2f} mixed_bfloat16")
    print(f"  R1 penalty: {every * 1000:.1f} ms extra on a penalty step; every {interval} steps "
          f"that is {result['lazy_penalty_share']:.1%} of the StyleGAN step (measured directly, "
          f"with and without it: {result['lazy_penalty_share_measured']:.1%})")
    print(f"  mixed_bfloat16 speed-up: StyleGAN {result['stylegan_bf16_speedup']:.2f}x, DCGAN "
          f"{result['dcgan_bf16_speedup']:.2f}x (a bf16 matmul is {matmul_ratio:.2f}x float32 "
          "on this CPU)", flush=True)
    return result


RUNS = {"quality": lambda quick, argv: quality(quick), "speed": speed}


def main(argv):
    quick = "--quick" in argv
    runs = {name: RUNS[name](quick, argv) for name in selected_runs(argv, RUNS)}
    name = result_name("stylegan", quick)
    write_result(name, {"runs": merged_runs(name, runs), "quick": quick})
    return runs


if __name__ == "__main__":
    main(sys.argv[1:])
