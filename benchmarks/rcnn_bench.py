"""rcnn: R-CNN, Fast R-CNN and Faster R-CNN side by side, with YOLO's row and
torchvision's Faster R-CNN for scale.

Targets (issue 17), on the 2-core CPU, on the same generated digit scenes
and test set as the yolo benchmark (16,000 training scenes, seed 1337,
500 test scenes):

- each variant trains for the same wall time (``BUDGET_MINUTES``); the
  table gives test mAP@0.5, COCO mAP@[.5:.95], images per second at
  inference and the proposals' recall at IoU 0.5;
- ``faster`` reaches test mAP@0.5 >= 0.85;
- for scale, torchvision's ``fasterrcnn_mobilenet_v3_large_fpn`` from
  scratch (``weights=None, weights_backbone=None``) on the same scenes for
  the same seconds, scored by the same pycocotools code
  (``benchmarks/peers/torchvision_frcnn.py``, in the Ultralytics peer's
  environment ``.venv-ultralytics``, in a child process);
- the YOLO row is the best yolo run (by test mAP@0.5) read from
  ``benchmarks/results/yolo.json`` when the yolo benchmark has run (else
  the table says it is pending).

Inference speed is the reloaded export's ``detect`` at batch 1 (median of
repeats); for ``rcnn`` and ``fast`` it is given without and with selective
search (which runs outside the graph, one image on one core, before
``detect``). Selective search over the training scenes runs once, before
the clocks start, and is cached in ``runs/rcnn_bench_proposals`` for both
variants that use it; its time is recorded.

    python -m benchmarks rcnn                         # every run (~2 h 10 min: 4 x 20 min of training, selective search, evaluation)
    python -m benchmarks --only=faster_digits rcnn    # one run, the others kept
    python -m benchmarks --minutes=5 --only=faster_digits rcnn   # a shorter probe
    python -m benchmarks --quick rcnn                 # 60-second budgets, 600 scenes

Each run records the CPU share other processes used.
"""

import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from dlsuite.apps.runtime import training
from benchmarks.cnn_accuracy_bench import TimeBudget
from benchmarks.common import (CpuShare, comparable, cpu_share_note, merged_runs, record_target,
                               result_name, selected_runs, temporary_run, write_result)

MINUTES = 60
BUDGET_MINUTES = 20
ROOT = pathlib.Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".venv-ultralytics" / "bin" / "python"
PROPOSALS = ROOT / "runs" / "rcnn_bench_proposals"
SAMPLES = ROOT / "benchmarks" / "results" / "samples"
QUICK_BUDGET_SECONDS = 60
QUICK_SCENES = 600

# The yolo benchmark's scenes: same source, seed, canvas, spec and counts.
SCENES = ["dataset=mnist5k", "train_scenes=16000"]
COMMON = SCENES + ["patience=0", "lr_schedule=constant"]
RUNS = {
    "faster_digits": ("faster", COMMON + ["variant=faster"], 0.85),
    "fast_digits": ("fast", COMMON + ["variant=fast"], None),
    "rcnn_digits": ("rcnn", COMMON + ["variant=rcnn"], None),
    "torchvision_frcnn": ("torchvision", None, None),
}


def _budget(argv, quick):
    if quick:
        return QUICK_BUDGET_SECONDS
    minutes = [float(a.split("=", 1)[1]) for a in argv if a.startswith("--minutes=")]
    return (minutes[-1] if minutes else BUDGET_MINUTES) * MINUTES


def detect_speed(export_dir, images, proposals=None, repeats=15):
    """Images per second of the reloaded ``detect`` at batch 1 (median)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(export_dir))
    times = []
    for index in range(repeats + 3):
        args = [tf.constant(images[index:index + 1])]
        if proposals is not None:
            args.append(tf.constant(proposals[index:index + 1]))
        start = time.perf_counter()
        loaded.detect(*args)["count"].numpy()
        if index >= 3:
            times.append(time.perf_counter() - start)
    return 1.0 / statistics.median(times)


def search_seconds(images, settings, count=50):
    """Median seconds of selective search on one image (one core)."""
    from dlsuite.apps.rcnn.proposals import search

    times = []
    for image in images[:count]:
        start = time.perf_counter()
        search(image, settings)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_variant(name, variant, overrides, budget, quick, keep):
    """Train one variant for ``budget`` seconds and measure it."""
    from dlsuite.apps.rcnn import RCNNConfig
    from dlsuite.apps.runtime.config import apply_overrides

    config = apply_overrides(RCNNConfig(), overrides)
    searching = variant != "faster"
    search_setup = None
    if searching:
        # Selective search on every split, once, outside the training clock.
        from dlsuite.apps.rcnn.proposals import ProposalCache

        data = keep.get("data") or config.load()
        keep["data"] = data
        cache = ProposalCache(PROPOSALS, config.search_settings())
        start = time.perf_counter()
        for images in (data.x_train, data.x_dev, data.x_test):
            cache.get(images)
        search_setup = time.perf_counter() - start
        overrides = overrides + [f"proposals_dir={PROPOSALS}"]
    budget_callback = TimeBudget(budget)
    with temporary_run(f"rcnn_bench_{name}") as run_path:
        run_dir = pathlib.Path(run_path)
        with CpuShare() as share:
            session, metrics = training.train(
                "rcnn", overrides, epochs=10_000, strategy="default",
                precision_name="float32", run_dir=run_path,
                extra_callbacks=[budget_callback], verbose=0)
        data = session.data
        keep["data"] = data
        detection, found = metrics["detection"], metrics["proposals"]
        proposals = None
        if searching:
            proposals = session.app.proposals_for(data.x_test, session.config)
        speed = detect_speed(run_dir / "export", data.x_test, proposals)
        result = {
            "variant": variant, "overrides": overrides, "map_50": detection["map_50"],
            "map": detection["map"], "ap_50_per_class": detection["ap_50_per_class"],
            "error_analysis": detection["error_analysis"],
            "true_objects": detection["true_objects"],
            "proposal_recall": found["recall_at"], "proposals_per_image": found["per_image"],
            "proposal_method": found["method"], "detect_images_per_second": speed,
            "training_seconds": budget_callback.elapsed, "steps": budget_callback.steps,
            "step_seconds": budget_callback.step_seconds(),
            "epochs": len(session.run.read_history()),
            "dev_map_50_per_epoch": [row.get("val_map_50") for row in session.run.read_history()],
            "parameters": session.model.count_params(), "budget_seconds": budget,
            "other_cpu_share": share.other, "comparable": comparable(share.other),
        }
        if searching:
            seconds = search_seconds(data.x_test, session.config.search_settings())
            result.update(search_seconds_per_image=seconds, search_setup_seconds=search_setup,
                          images_per_second_with_search=1.0 / (seconds + 1.0 / speed))
        if not quick:
            SAMPLES.mkdir(parents=True, exist_ok=True)
            for figure in ("scenes.png", "precision_recall.png", "proposals.png"):
                shutil.copy(run_dir / figure, SAMPLES / f"rcnn_{name}_{figure}")
    return result


def run_torchvision(data, seconds, quick):
    """torchvision's Faster R-CNN on ``data``'s scenes, scored by our code."""
    from dlsuite.apps.kits.detection.evaluation import coco_evaluate

    if not PEER_PYTHON.exists():
        return {"skipped": f"{PEER_PYTHON} is missing: run `make bench-ultralytics-venv`"}
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        np.savez(root / "data.npz", x_train=data.x_train, y_train=data.y_train,
                 x_test=data.x_test)
        settings = {"data": str(root / "data.npz"), "output": str(root / "out.json"),
                    "seconds": seconds, "imgsz": int(data.x_train.shape[1]), "batch": 8,
                    "threads": os.cpu_count(), "learning_rate": 1e-3,
                    "num_classes": data.num_classes, "seed": 0}
        (root / "settings.json").write_text(json.dumps(settings))
        with CpuShare() as share:
            completed = subprocess.run(
                [str(PEER_PYTHON), str(ROOT / "benchmarks" / "peers" / "torchvision_frcnn.py"),
                 str(root / "settings.json")], capture_output=True, text=True, cwd=root)
        if completed.returncode != 0:
            return {"error": (completed.stdout + completed.stderr)[-3000:]}
        found = json.loads((root / "out.json").read_text())
    detections = [(np.asarray(item["boxes"], np.float32).reshape(-1, 4),
                   np.asarray(item["scores"], np.float32), np.asarray(item["classes"], np.int64))
                  for item in found["detections"]]
    result = coco_evaluate(data.y_test, detections, data.num_classes, data.x_test.shape[1:3])
    return {"map_50": result["map_50"], "map": result["map"],
            "training_seconds": found["train_seconds"], "steps": found["steps"],
            "epochs": found["epochs"], "budget_seconds": seconds,
            "detect_images_per_second": 1.0 / found["batch_1_seconds"],
            "parameters": found["parameters"], "torch": found["torch"],
            "torchvision": found["torchvision"], "other_cpu_share": share.other,
            "comparable": comparable(share.other)}


def yolo_row():
    """The best YOLO run of the detection I benchmark (by test mAP@0.5), when
    it has run: its name and figures."""
    path = ROOT / "benchmarks" / "results" / "yolo.json"
    if not path.exists():
        return None
    runs = json.loads(path.read_text()).get("runs", {})
    ours = {name: run for name, run in runs.items()
            if name.startswith("yolo_digits") and "map_50" in run and "detect" in run}
    if not ours:
        return None
    name = max(ours, key=lambda key: ours[key]["map_50"])
    run = ours[name]
    return {"name": name, "map_50": run["map_50"], "map": run["map"],
            "training_seconds": run["training_seconds"],
            "detect_images_per_second": run["detect"]["batch_1"]["images_per_second"]}


def table(runs):
    """The side-by-side markdown table of the runs measured so far."""
    lines = ["| detector | training | test mAP@0.5 | mAP@[.5:.95] | images/s (batch 1) "
             "| proposal recall @100 / @300 |", "|---|---|---|---|---|---|"]
    for name in ("rcnn_digits", "fast_digits", "faster_digits", "torchvision_frcnn"):
        run = runs.get(name)
        if not run or "map_50" not in run:
            lines.append(f"| {name} | pending | | | | |")
            continue
        speed = f"{run['detect_images_per_second']:.1f}"
        if "images_per_second_with_search" in run:
            speed += f" ({run['images_per_second_with_search']:.1f} with selective search)"
        recall = run.get("proposal_recall")
        recall = (" / ".join(f"{recall[k]:.3f}" for k in ("100", "300")) if recall else "-")
        lines.append(f"| {name} | {run['training_seconds'] / 60:.0f} min | {run['map_50']:.3f} | "
                     f"{run['map']:.3f} | {speed} | {recall} |")
    yolo = yolo_row()
    if yolo:
        lines.append(f"| yolo: {yolo['name']} (yolo.json) | {yolo['training_seconds'] / 60:.0f}"
                     f" min | {yolo['map_50']:.3f} | {yolo['map']:.3f} | "
                     f"{yolo['detect_images_per_second']:.1f} | - |")
    else:
        lines.append("| yolo | pending: `python -m benchmarks yolo` has not run | | | | |")
    places = sorted({run["machine"]["processor"] for run in runs.values() if "machine" in run})
    unstamped = [name for name, run in runs.items() if "map_50" in run and "machine" not in run]
    if places:
        lines.append("")
        lines.append("Measured on " + "; ".join(places)
                     + (f" (no machine recorded for {', '.join(unstamped)})" if unstamped else ""))
    return "\n".join(lines)


def main(argv):
    quick = "--quick" in argv
    names = selected_runs(argv, RUNS)
    budget = _budget(argv, quick)
    name = result_name("rcnn", quick)
    saved = merged_runs(name, {})
    results, keep = {}, {}
    extra = [f"limit={QUICK_SCENES}"] if quick else []
    for run_name in names:
        kind, overrides, target = RUNS[run_name]
        if kind == "torchvision":
            ours = results.get("faster_digits") or saved.get("faster_digits")
            seconds = ours["training_seconds"] if ours else budget
            from dlsuite.apps.rcnn import RCNNConfig
            from dlsuite.apps.runtime.config import apply_overrides

            data = keep.get("data") or apply_overrides(RCNNConfig(), COMMON + extra).load()
            result = run_torchvision(data, seconds, quick)
        else:
            result = run_variant(run_name, kind, overrides + extra, budget, quick, keep)
        value = result.get("map_50")
        if value is None:
            print(f"rcnn {run_name}: {result.get('skipped') or 'failed: ' + result['error'][-800:]}",
                  flush=True)
        else:
            print(f"rcnn {run_name}: test mAP@0.5 {value:.4f}, mAP@[.5:.95] {result['map']:.4f} "
                  f"after {result['training_seconds']:.0f} s ({result['steps']} steps); "
                  f"{result['detect_images_per_second']:.1f} images/s", flush=True)
        record_target(result, value, target)
        share = result.get("other_cpu_share")
        if share is not None:
            print(f"  {cpu_share_note(share)}", flush=True)
        results[run_name] = result
        runs = merged_runs(name, results)
        write_result(name, {"runs": runs, "quick": quick, "table": table(runs)})
    runs = merged_runs(name, results)
    print(table(runs), flush=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
