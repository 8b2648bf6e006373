"""Ultralytics YOLOv8n trained from scratch, as the yolo benchmark's peer.

Runs alone in its own virtual environment (``make bench-ultralytics-venv``:
torch, torchvision, ultralytics; never the project's), in a child process
of ``benchmarks/yolo_bench.py``, which imports neither TensorFlow nor
dlsuite here. It trains on the scenes the parent wrote in YOLO format for
the same wall time as ours, then writes its detections on the test images
as JSON for the parent to score with the same pycocotools code:

    .venv-ultralytics/bin/python benchmarks/peers/ultralytics_yolo.py SETTINGS.json

``SETTINGS.json``: ``data`` (data.yaml), ``test_images`` (folder),
``output`` (JSON path), ``project`` (run folder), ``seconds`` (training
budget), ``imgsz``, ``batch``, ``threads``, ``conf``, ``iou``, ``max_det``.
"""

import json
import os
import pathlib
import sys
import time


def main(path):
    settings = json.loads(pathlib.Path(path).read_text())
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics import YOLO

    import ultralytics.utils.torch_utils as torch_utils

    torch.set_num_threads(settings["threads"])
    # Ultralytics' select_device() resets torch to NUM_THREADS = cpu_count - 1
    # (one thread on this 2-core machine) and trains with workers=0 on the
    # CPU: its training would then use half the cores ours uses. Give it the
    # same threads.
    torch_utils.NUM_THREADS = settings["threads"]
    # From scratch: the architecture's yaml, no pretrained weights.
    model = YOLO("yolov8n.yaml")
    start = time.perf_counter()
    model.train(data=settings["data"], epochs=1000, time=settings["seconds"] / 3600.0,
                imgsz=settings["imgsz"], batch=settings["batch"], device="cpu",
                workers=settings.get("workers", 2), pretrained=False, plots=False, val=False,
                amp=False, project=settings["project"], name="run", exist_ok=True,
                seed=settings.get("seed", 0), deterministic=False, verbose=False,
                fliplr=0.0)  # digits are not mirror-symmetric; ours trains unflipped too
    train_seconds = time.perf_counter() - start
    trainer = model.trainer
    weights = pathlib.Path(trainer.last if pathlib.Path(trainer.last).exists() else trainer.best)
    trained = YOLO(str(weights))
    images = sorted(pathlib.Path(settings["test_images"]).glob("*.png"))
    detections = []
    start = time.perf_counter()
    for offset in range(0, len(images), 32):
        for result in trained.predict([str(p) for p in images[offset:offset + 32]],
                                      imgsz=settings["imgsz"], conf=settings["conf"],
                                      iou=settings["iou"], max_det=settings["max_det"],
                                      device="cpu", verbose=False):
            boxes = result.boxes
            detections.append({"file": pathlib.Path(result.path).name,
                               "boxes": boxes.xyxy.tolist(), "scores": boxes.conf.tolist(),
                               "classes": [int(c) for c in boxes.cls.tolist()]})
    predict_seconds = time.perf_counter() - start
    pathlib.Path(settings["output"]).write_text(json.dumps({
        "detections": detections, "train_seconds": train_seconds,
        "epochs": int(getattr(trainer, "epoch", -1)) + 1, "threads": torch.get_num_threads(),
        "predict_seconds": predict_seconds, "weights": str(weights),
        "torch": torch.__version__, "ultralytics": __import__("ultralytics").__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
