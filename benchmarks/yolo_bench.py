"""yolo: detection quality in a training-time budget, against Ultralytics.

Targets (issue 16), on the 2-core CPU:

- generated digit scenes (real MNIST digits, up to 6 per 128x128 scene,
  scales x1 to x3): ``yolo`` reaches test mAP@0.5 >= 0.90 within 20
  minutes of training; COCO mAP@[.5:.95] reported;
- Ultralytics YOLOv8n trained from scratch (no pretrained weights, plots
  off) on the same scenes written in YOLO format, for the same wall time,
  scored by the same pycocotools code on the same test set: ours >= theirs;
- ``yolo_digits_ciou``: the same run with ``box_loss=ciou`` (the box term
  ``1 - CIoU`` of the decoded box, YOLOv4-v8's, instead of YOLOv3's squared
  offsets and log-sizes), each of our runs also given over Ultralytics'
  saved figure; ``yolo_digits_wide``: CIoU with the backbone at width 0.5;
- detections per second of the exported ``detect`` at batch 1 and 16;
- ``localize``: test mean IoU >= 0.85.

Ours trains through the app's normal path (``dlsuite.apps.runtime.training``) with
``TimeBudget`` (``benchmarks/cnn_accuracy_bench.py``) annealing the
learning rate by a cosine over the budget's elapsed fraction and stopping
it when spent. Ultralytics runs in its own virtual environment, made by
``make bench-ultralytics-venv`` (torch 2.14.1, torchvision 0.29.1,
ultralytics 8.4; never the project's), in a child process
(``benchmarks/peers/ultralytics_yolo.py``) after ours has finished, with
its own ``time=`` budget set to the seconds ours trained (in this
invocation, or in the saved ``results/yolo.json``), on the same seeded
scenes.

    python -m benchmarks yolo                      # full: 4 x 20 + 5 minutes
    python -m benchmarks --only=localize yolo      # one run, the others kept
    python -m benchmarks --quick yolo              # 60-second budgets, 600 scenes

The CPU share other processes used is recorded per run.
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
ROOT = pathlib.Path(__file__).resolve().parent.parent
ULTRALYTICS_PYTHON = ROOT / ".venv-ultralytics" / "bin" / "python"
SAMPLES = ROOT / "benchmarks" / "results" / "samples"
QUICK_BUDGET_SECONDS = 60
QUICK_SCENES = 600

# Every yolo run's settings but the backbone width and the box loss.
YOLO_OVERRIDES = ["dataset=mnist5k", "arch=resnet18", "stride=16",
                  "anchors_per_cell=3", "batch_size=32", "learning_rate=0.002",
                  "lr_schedule=constant", "patience=0", "train_scenes=16000"]
LOCALIZE_OVERRIDES = ["dataset=mnist5k", "arch=resnet18", "width=0.25", "batch_size=64",
                      "learning_rate=0.002", "patience=0"]
# Our runs: the YOLOv2/v3 squared box loss, the same with 1 - CIoU, and CIoU
# with the backbone at half width (its channels doubled: 0.81M parameters,
# YOLOv8n has about 3M).
YOLO_RUN_OVERRIDES = {"yolo_digits": YOLO_OVERRIDES + ["width=0.25", "box_loss=squared"],
                      "yolo_digits_ciou": YOLO_OVERRIDES + ["width=0.25", "box_loss=ciou"],
                      "yolo_digits_wide": YOLO_OVERRIDES + ["width=0.5", "box_loss=ciou"]}
# name: (what it trains, target, budget in seconds)
RUNS = {
    "yolo_digits": ("yolo", 0.90, 20 * MINUTES),
    "yolo_digits_ciou": ("yolo", 0.90, 20 * MINUTES),
    "yolo_digits_wide": ("yolo", 0.90, 20 * MINUTES),
    "ultralytics_yolov8n": ("ultralytics", None, 20 * MINUTES),
    "localize_digits": ("localize", 0.85, 5 * MINUTES),
}


def _train(app, overrides, budget, run_dir):
    """Train ``app`` for ``budget`` seconds; (session, metrics, budget callback, share)."""
    budget_callback = TimeBudget(budget)
    with CpuShare() as share:
        session, metrics = training.train(app, overrides, epochs=10_000, strategy="default",
                                          precision_name="float32", run_dir=str(run_dir),
                                          extra_callbacks=[budget_callback], verbose=0)
    return session, metrics, budget_callback, share.other


def detect_throughput(export_dir, images, repeats=7):
    """Images and detections per second of the reloaded ``detect`` at batch 1 and 16."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(export_dir))
    found = {}
    for batch in (1, 16):
        x = tf.constant(images[:batch])
        loaded.detect(x)
        times, counts = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            outputs = loaded.detect(x)
            counts.append(int(outputs["count"].numpy().sum()))
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        found[f"batch_{batch}"] = {"seconds": seconds, "images_per_second": batch / seconds,
                                   "detections_per_second": statistics.median(counts) / seconds}
    return found


def run_yolo(run_name, overrides, budget, quick, keep):
    with temporary_run(f"yolo_bench_{run_name}") as run_path:
        run_dir = pathlib.Path(run_path)
        session, metrics, budget_callback, share = _train("yolo", overrides, budget, run_dir)
        detection = metrics["detection"]
        speed = detect_throughput(run_dir / "export", session.data.x_test)
        if not quick:
            SAMPLES.mkdir(parents=True, exist_ok=True)
            for name in ("scenes.png", "precision_recall.png", "learning_curves.png"):
                shutil.copy(run_dir / name, SAMPLES / f"{run_name}_{name}")
            scene = SAMPLES / f"{run_name}_scene.png"
            import tensorflow as tf

            scene.write_bytes(tf.io.encode_png(session.data.x_test[1]).numpy())
            from dlsuite.apps.runtime import commands

            commands.predict(str(run_dir), [str(scene)])
        keep["data"] = session.data
        rows = session.run.read_history()
    return {
        "overrides": overrides, "map_50": detection["map_50"], "map": detection["map"],
        "ap_50_per_class": detection["ap_50_per_class"],
        "error_analysis": detection["error_analysis"], "true_objects": detection["true_objects"],
        "anchors": metrics["anchors"], "training_seconds": budget_callback.elapsed,
        "steps": budget_callback.steps, "epochs": len(rows),
        "dev_map_50_per_epoch": [row.get("val_map_50") for row in rows],
        "step_seconds": budget_callback.step_seconds(),
        "parameters": session.model.count_params(), "detect": speed,
        "budget_seconds": budget, "other_cpu_share": share, "comparable": comparable(share),
    }


def run_ultralytics(data, seconds, quick):
    """Ultralytics YOLOv8n on ``data``'s scenes, scored by our pycocotools code."""
    from dlsuite.apps.data.annotations import write_detection_set
    from dlsuite.apps.kits.detection.evaluation import coco_evaluate

    if not ULTRALYTICS_PYTHON.exists():
        return {"skipped": f"{ULTRALYTICS_PYTHON} is missing: run `make bench-ultralytics-venv`"}
    with tempfile.TemporaryDirectory() as root:
        root = pathlib.Path(root)
        write_detection_set(root / "data", {"train": data.train, "val": data.dev,
                                            "test": data.test}, data.class_names, "yolo")
        settings = {"data": str(root / "data" / "data.yaml"),
                    "test_images": str(root / "data" / "images" / "test"),
                    "output": str(root / "out.json"), "project": str(root / "project"),
                    "seconds": seconds, "imgsz": int(data.x_train.shape[1]), "batch": 32,
                    "threads": os.cpu_count(), "workers": 2, "conf": 0.001, "iou": 0.5,
                    "max_det": 50}
        (root / "settings.json").write_text(json.dumps(settings))
        env = {**os.environ, "YOLO_CONFIG_DIR": str(root / "config"), "YOLO_OFFLINE": "1"}
        with CpuShare() as share:
            start = time.perf_counter()
            completed = subprocess.run(
                [str(ULTRALYTICS_PYTHON), str(ROOT / "benchmarks" / "peers" / "ultralytics_yolo.py"),
                 str(root / "settings.json")], env=env, capture_output=True, text=True, cwd=root)
            wall = time.perf_counter() - start
        if completed.returncode != 0:
            return {"error": (completed.stdout + completed.stderr)[-3000:]}
        found = json.loads((root / "out.json").read_text())
    by_index = {int(item["file"].split("_")[1].split(".")[0]): item
                for item in found["detections"]}
    detections = []
    for index in range(len(data.x_test)):
        item = by_index.get(index, {"boxes": [], "scores": [], "classes": []})
        detections.append((np.asarray(item["boxes"], np.float32).reshape(-1, 4),
                           np.asarray(item["scores"], np.float32),
                           np.asarray(item["classes"], np.int64)))
    result = coco_evaluate(data.y_test, detections, data.num_classes, data.x_test.shape[1:3])
    return {"map_50": result["map_50"], "map": result["map"],
            "ap_50_per_class": dict(zip(data.class_names, result["ap_50_per_class"])),
            "training_seconds": found["train_seconds"], "epochs": found["epochs"],
            "budget_seconds": seconds, "wall_seconds": wall, "torch": found["torch"],
            "ultralytics": found["ultralytics"], "torch_threads": found["threads"],
            "other_cpu_share": share.other,
            "comparable": comparable(share.other)}


def scenes_of(overrides):
    """The scenes ``yolo`` trains on with ``overrides`` (seeded: the same every time)."""
    from dlsuite.apps.runtime.config import apply_overrides
    from dlsuite.apps.yolo import YOLOConfig

    return apply_overrides(YOLOConfig(), overrides).load()


def run_localize(overrides, budget, quick):
    with temporary_run("localize_bench") as run_dir:
        session, metrics, budget_callback, share = _train("localize", overrides, budget, run_dir)
        if not quick:
            SAMPLES.mkdir(parents=True, exist_ok=True)
            shutil.copy(pathlib.Path(run_dir) / "localized.png",
                        SAMPLES / "localize_digits_localized.png")
    return {"overrides": overrides, **metrics["localization"],
            "training_seconds": budget_callback.elapsed, "steps": budget_callback.steps,
            "budget_seconds": budget, "other_cpu_share": share, "comparable": comparable(share)}


def main(argv):
    quick = "--quick" in argv
    names = selected_runs(argv, RUNS)
    results, keep = {}, {}
    extra = ["limit=%d" % QUICK_SCENES] if quick else []
    saved = merged_runs(result_name("yolo", quick), {})
    for name in names:
        kind, target, budget = RUNS[name]
        budget = QUICK_BUDGET_SECONDS if quick else budget
        if kind == "yolo":
            result = run_yolo(name, YOLO_RUN_OVERRIDES[name] + extra, budget, quick, keep)
            value = result["map_50"]
            print(f"yolo {name}: test mAP@0.5 {value:.4f}, mAP@[.5:.95] {result['map']:.4f} "
                  f"after {result['training_seconds']:.0f} s ({result['epochs']} epochs); "
                  f"detect {result['detect']['batch_1']['images_per_second']:.1f} images/s at "
                  f"batch 1, {result['detect']['batch_16']['images_per_second']:.1f} at 16",
                  flush=True)
        elif kind == "ultralytics":
            # The peer trains for the seconds ours trained, on the same scenes:
            # this invocation's, or the saved run's (regenerated from its seed).
            ours = results.get("yolo_digits") or saved.get("yolo_digits")
            if ours is None:
                raise SystemExit("run yolo_digits first: the peer trains for its seconds")
            data = keep.get("data") or scenes_of(YOLO_OVERRIDES + extra)
            result = run_ultralytics(data, ours["training_seconds"], quick)
            value = result.get("map_50")
            if value is None:
                print(f"yolo {name}: {result.get('skipped') or 'failed: ' + result['error'][-500:]}",
                      flush=True)
            else:
                # Each of our runs carries its own ratio to this figure
                # (over_ultralytics below), so none goes stale here.
                print(f"yolo {name}: test mAP@0.5 {value:.4f}, mAP@[.5:.95] {result['map']:.4f} "
                      f"after {result['training_seconds']:.0f} s ({result['epochs']} epochs)",
                      flush=True)
        else:
            result = run_localize(LOCALIZE_OVERRIDES + extra, budget, quick)
            value = result["mean_iou"]
            print(f"yolo {name}: test mean IoU {value:.4f}, accuracy {result['accuracy']:.4f} "
                  f"after {result['training_seconds']:.0f} s", flush=True)
        if kind == "yolo" and "ultralytics_yolov8n" in saved | results:
            # Ours against the peer's saved figure (it trained for the same seconds).
            theirs = (results.get("ultralytics_yolov8n") or saved["ultralytics_yolov8n"])
            if theirs.get("map_50") is not None:
                result["over_ultralytics"] = result["map_50"] / max(theirs["map_50"], 1e-9)
                print(f"  ours / Ultralytics' mAP@0.5: {result['over_ultralytics']:.3f}",
                      flush=True)
        record_target(result, value, target)
        share = result.get("other_cpu_share")
        if share is not None:
            print(f"  {cpu_share_note(share)}", flush=True)
        results[name] = result
    name = result_name("yolo", quick)
    write_result(name, {"runs": merged_runs(name, results), "quick": quick})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
