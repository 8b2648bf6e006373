"""style: the figures of ``dlsuite train style``, through the app's own path.

    python -m benchmarks style                      # full (about 50 minutes on 2 idle cores)
    python -m benchmarks --only=optimize,keras_io style
    python -m benchmarks --quick style              # 48x48, few steps (a smoke run)

Runs (``make data`` first puts Van Gogh's starry_night.jpg of Debian's
opencv-doc in the Keras cache; without it the style is the bundled
immunohistochemistry stain, and the result says so):

* ``optimize``: astronaut at 256x256, 500 optimisation steps from the content
  image, default config. Targets: the style cost falls at least 20-fold;
  the result's content cost stays below a quarter of the content cost
  between the content image and the style image.
* ``keras_io``: the same 500 steps with keras-io's normalisation (every
  style layer by the image's size and 3 channels instead of its own). Its
  beta is scaled so that both runs' style terms are equal at the first step
  (the same total style weight, spread differently over the layers). Both
  final style costs are measured with the per-layer formula.
* ``speed``: 100 optimisation steps at 256x256 in float32 and in
  mixed_bfloat16, rounds interleaved, with the bf16 / float32 matmul rate
  ratio measured in the same process.
* ``fast``: the feed-forward stylizer, default fast config, trained for 15
  minutes in mixed_bfloat16, Adam's rate annealed by a cosine over the
  budget (``cnn_accuracy_bench.TimeBudget``); images per second through the
  exported SavedModel at 256x256 and 512x512, batch 1 and 8; its style cost
  on the held-out photos against what 500 optimisation steps (in
  mixed_bfloat16) reach on each of them (target: within 2x); the same per
  style layer, and the optimisation step at which the optimised photos
  reach the network's held-out style cost.
"""

import pathlib
import shutil
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps import registry
from dlsuite.apps.runtime import training
from dlsuite.apps.runtime.config import apply_overrides
from benchmarks.cnn_accuracy_bench import TimeBudget
from benchmarks.cnn_speed_bench import matmul_rate
from benchmarks.common import (CpuShare, EpochTimer, RESULTS, comparable, cpu_share_note,
                               fresh_session, merged_runs, result_name, selected_runs,
                               temporary_run, write_result)

SAMPLES = RESULTS / "samples"
RUNS = ("optimize", "keras_io", "speed", "fast")
# The fast stylizer trains in bf16: 2x the steps of float32 in the same time
# here (the speed run), and its held-out photos are optimised in bf16 too.
FAST_PRECISION = "mixed_bfloat16"


def _settings(quick):
    if quick:
        return {"size": 48, "steps_per_epoch": 5, "epochs": 2, "speed_steps": 5,
                "fast": ["crops=16", "crop_size=32", "filters=4", "residual_blocks=1"],
                "fast_epochs": 1, "fast_budget": None, "throughput_sizes": (32, 64)}
    return {"size": 256, "steps_per_epoch": 50, "epochs": 10, "speed_steps": 25,
            "fast": [], "fast_epochs": 1000, "fast_budget": 15 * 60,
            "throughput_sizes": (256, 512)}


def _train(overrides, epochs, keep_as=None, budget=None, keep_export=False,
           precision="float32"):
    """Train the style app: (metrics, history, costs, wall seconds, a copy of
    the export or None). ``keep_as`` copies the figures to results/samples/."""
    from dlsuite.apps.style.figures import read_costs

    callback = TimeBudget(budget) if budget else None
    with temporary_run("style_bench") as run_dir:
        start = time.perf_counter()
        session, metrics = training.train(
            "style", overrides, epochs=epochs, strategy="default", precision_name=precision,
            run_dir=run_dir, verbose=0, extra_callbacks=[callback] if callback else ())
        wall = time.perf_counter() - start
        history, costs = session.run.read_history(), read_costs(session.run.path)
        if keep_as:
            SAMPLES.mkdir(parents=True, exist_ok=True)
            for name in ("result.png", "side_by_side.png", "heldout.png", "cost_curves.png"):
                if (session.run.path / name).exists():
                    shutil.copyfile(session.run.path / name, SAMPLES / f"{keep_as}_{name}")
        export = None
        if keep_export:
            export = pathlib.Path(tempfile.mkdtemp(prefix="style_export_")) / "export"
            shutil.copytree(session.run.export, export)
    return metrics, history, costs, wall, export


def _optimize_overrides(settings, extra=()):
    return ["content=astronaut", f"image_size={settings['size']}",
            f"steps_per_epoch={settings['steps_per_epoch']}", *extra]


def _summary(metrics, costs):
    style = metrics["style"]
    return {"final": style["final"], "references": style["references"],
            "style_cost_fall": style["style_cost_fall"],
            "content_cost_share": style["content_cost_share"], "steps": style["steps"],
            "style_cost_by_layer": style["style_cost_by_layer"], "costs_every_n_steps": costs,
            "feature_weights": metrics["feature_weights"]}


def _keep(settings, name):
    """Where a full run's figures go (results/samples/); quick runs keep none."""
    return None if settings["size"] < 256 else name


def run_optimize(settings):
    metrics, _, costs, wall, _ = _train(_optimize_overrides(settings), settings["epochs"],
                                        keep_as=_keep(settings, "style_optimize"))
    result = {**_summary(metrics, costs), "seconds": wall,
              "targets": {"style_cost_fall_min": 20.0, "content_cost_share_max": 0.25}}
    result["reached"] = result["style_cost_fall"] >= 20 and result["content_cost_share"] < 0.25
    print(f"optimize: {result['steps']} steps in {wall:.0f} s; style cost fall "
          f"{result['style_cost_fall']:.1f}x (target >= 20), content cost share "
          f"{result['content_cost_share']:.3f} (target < 0.25): "
          f"{'met' if result['reached'] else 'NOT met'}", flush=True)
    return result


def _initial_style_costs(settings):
    """The content image's style cost with each normalisation (the first step's)."""
    app = registry.get_app("style")
    config = apply_overrides(app.default_config(), _optimize_overrides(
        settings, ["style_normalization=image"]))
    app.config = config
    keras.utils.clear_session()
    model = app.build_model(config, app.make_datasets(config))
    keras_io = model.current_terms()["style_cost"]
    ours = float(model.measured_terms(model.generated.value,
                                      [t.value for t in model.content_targets])["style_cost"][0])
    return ours, keras_io


def run_keras_io(settings):
    ours, keras_io = _initial_style_costs(settings)
    beta = registry.get_app("style").default_config().beta * ours / keras_io
    metrics, _, costs, wall, _ = _train(
        _optimize_overrides(settings, ["style_normalization=image", f"beta={beta:.6g}"]),
        settings["epochs"], keep_as=_keep(settings, "style_keras_io"))
    result = {**_summary(metrics, costs), "seconds": wall, "beta": beta,
              "initial_style_cost_layer_normalised": ours,
              "initial_style_cost_image_normalised": keras_io}
    print(f"keras-io normalisation (beta {beta:.4g}, the same style term at step 0): style cost "
          f"fall {result['style_cost_fall']:.1f}x measured per layer, content cost share "
          f"{result['content_cost_share']:.3f}", flush=True)
    return result


def _steps_seconds(settings, policy):
    """Seconds per optimisation step at the run's size under ``policy``: the
    median epoch of one fit (first epoch, tracing, left out)."""
    app = registry.get_app("style")
    config = apply_overrides(app.default_config(), _optimize_overrides(settings))
    app.config = config
    data = app.make_datasets(config)
    with fresh_session(policy):
        model = app.build_model(config, data)
        timer = EpochTimer()
        rows = np.zeros((settings["speed_steps"], 1), "float32")
        model.fit(rows, batch_size=1, epochs=1 + 100 // settings["speed_steps"], verbose=0,
                  callbacks=[timer], shuffle=False)
    return [seconds / settings["speed_steps"] for seconds in timer.seconds[1:]]


def run_speed(settings):
    rates = {"float32": matmul_rate(tf.float32), "mixed_bfloat16": matmul_rate(tf.bfloat16)}
    seconds = {"float32": [], "mixed_bfloat16": []}
    for round_index in range(2):
        order = list(seconds) if round_index % 2 == 0 else list(seconds)[::-1]
        for policy in order:
            seconds[policy] += _steps_seconds(settings, policy)
    step = {policy: statistics.median(values) for policy, values in seconds.items()}
    speedup = step["float32"] / step["mixed_bfloat16"]
    matmul_ratio = rates["mixed_bfloat16"] / rates["float32"]
    result = {"step_seconds": seconds, "median_step_seconds": step,
              "seconds_per_100_steps": {p: 100 * s for p, s in step.items()},
              "bf16_speedup": speedup, "matmul_flops_per_second": rates,
              "bf16_matmul_rate_ratio": matmul_ratio, "size": settings["size"]}
    print(f"speed at {settings['size']}x{settings['size']}: 100 steps take "
          f"{100 * step['float32']:.1f} s float32, {100 * step['mixed_bfloat16']:.1f} s "
          f"mixed_bfloat16: bf16 speed-up {speedup:.2f}x (the bf16 / float32 matmul rate "
          f"ratio here: {matmul_ratio:.2f})", flush=True)
    return result


def _images_per_second(loaded, size, batch, repeats=5):
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (batch, size, size, 3)),
                         tf.uint8)
    loaded.stylize(images).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loaded.stylize(images).numpy()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def _optimized_reference(photo, settings, folder, name):
    """What 500 optimisation steps reach on a held-out photo at its square size:
    the final costs, each style layer's own cost, and the style cost every
    ``image_every`` steps."""
    from PIL import Image

    path = pathlib.Path(folder) / f"{name}.png"
    Image.fromarray(photo).save(path)
    metrics, _, costs, _, _ = _train(
        [f"content={path}", f"image_size={photo.shape[0]}",
         f"steps_per_epoch={settings['steps_per_epoch']}"], settings["epochs"],
        precision=FAST_PRECISION)
    return {**metrics["style"]["final"],
            "style_cost_by_layer": metrics["style"]["style_cost_by_layer"],
            "style_cost_curve": [[row["step"], row["style_cost"]] for row in costs]}


def steps_to_reach(curves, target):
    """The optimisation step at which the mean of ``curves`` (one ``[[step,
    style cost], ...]`` per photo, logged at the same steps) first falls to
    ``target``, interpolated log-linearly between logged steps; ``None`` if it
    never does. Johnson et al. compare their network with optimisation this way."""
    rows = [dict(curve) for curve in curves]
    steps = sorted(set.intersection(*(set(row) for row in rows)))
    means = [statistics.mean(row[step] for row in rows) for step in steps]
    for index, (step, cost) in enumerate(zip(steps, means)):
        if cost <= target:
            if index == 0:
                return float(step)
            before, after = np.log(means[index - 1]), np.log(cost)
            fraction = (before - np.log(target)) / (before - after)
            return float(steps[index - 1] + fraction * (step - steps[index - 1]))
    return None


def run_fast(settings):
    overrides = ["mode=fast", f"image_size={settings['size']}", *settings["fast"]]
    metrics, history, costs, wall, export_dir = _train(
        overrides, settings["fast_epochs"], keep_as=_keep(settings, "style_fast"),
        budget=settings["fast_budget"], keep_export=True, precision=FAST_PRECISION)
    heldout = metrics["style"]["heldout"]
    loaded = tf.saved_model.load(str(export_dir))
    throughput = {f"{size}x{size} batch {batch}": _images_per_second(loaded, size, batch)
                  for size in settings["throughput_sizes"] for batch in (1, 8)}
    shutil.rmtree(export_dir.parent, ignore_errors=True)
    # The held-out photos, as the report measured them: optimise each one.
    app = registry.get_app("style")
    config = apply_overrides(app.default_config(), overrides)
    app.config = config
    data = app.make_datasets(config)
    references = {}
    with tempfile.TemporaryDirectory() as folder:
        for (name, _), photo in zip(data.test_photos, data.x_test):
            references[name] = _optimized_reference(photo, settings, folder, name)
    optimized = statistics.mean(r["style_cost"] for r in references.values())
    steps = settings["steps_per_epoch"] * settings["epochs"]
    ratio = heldout["final"]["style_cost"] / optimized
    # Where the gap is: each style layer, the network against optimisation.
    layers = {name: {"fast": value, "optimized": statistics.mean(
        r["style_cost_by_layer"][name] for r in references.values())}
        for name, value in heldout["style_cost_by_layer"].items()}
    matched = steps_to_reach([r["style_cost_curve"] for r in references.values()],
                             heldout["final"]["style_cost"])
    result = {"seconds": wall, "budget_seconds": settings["fast_budget"],
              "precision": FAST_PRECISION, "epochs": len(history),
              "steps": costs[-1]["step"] if costs else 0,
              "heldout": heldout, "images_per_second": throughput,
              "optimized_heldout": references, "optimized_style_cost_mean": optimized,
              "style_cost_over_optimized": ratio, "target_ratio_max": 2.0,
              "reached": ratio <= 2.0, "style_cost_by_layer": layers,
              "optimization_steps_matching_heldout_style_cost": matched}
    print(f"fast stylizer: {result['steps']} steps ({len(history)} epochs) in {wall:.0f} s; "
          f"held-out style cost {heldout['final']['style_cost']:.4g} against "
          f"{optimized:.4g} after {steps} optimisation steps: {ratio:.2f}x (target <= 2: "
          f"{'met' if ratio <= 2 else 'NOT met'}); content cost share "
          f"{heldout['content_cost_share']:.3f}", flush=True)
    for name, pair in layers.items():
        print(f"  {name} alone: {pair['fast']:.4g} against {pair['optimized']:.4g} "
              f"({pair['fast'] / max(pair['optimized'], 1e-30):.1f}x)", flush=True)
    print("  optimisation reaches the held-out style cost after "
          + (f"{matched:.0f} steps" if matched is not None else f"more than {steps} steps"),
          flush=True)
    for key, value in throughput.items():
        print(f"  stylize {key}: {value:.2f} images/s", flush=True)
    return result


def main(argv):
    quick = "--quick" in argv
    settings = _settings(quick)
    chosen = selected_runs(argv, RUNS)
    runners = {"optimize": run_optimize, "keras_io": run_keras_io, "speed": run_speed,
               "fast": run_fast}
    runs = {}
    name = result_name("style", quick)
    for run in chosen:
        # Each run records its own CPU share and is saved as soon as it ends.
        with CpuShare() as share:
            runs[run] = runners[run](settings)
        runs[run].update(other_cpu_share=share.other, comparable=comparable(share.other))
        print(f"  ({run}: {cpu_share_note(share.other)})", flush=True)
        payload = {"runs": merged_runs(name, runs), "quick": quick,
                   "settings": {k: list(v) if isinstance(v, tuple) else v
                                for k, v in settings.items()}}
        write_result(name, payload)
    if "optimize" in runs and "keras_io" in runs:
        print(f"final style cost (per-layer formula): ours "
              f"{runs['optimize']['final']['style_cost']:.4g}, keras-io's normalisation "
              f"{runs['keras_io']['final']['style_cost']:.4g}", flush=True)
    return payload


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
