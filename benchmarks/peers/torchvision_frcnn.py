"""torchvision's Faster R-CNN (MobileNetV3-Large FPN) trained from scratch, as
the rcnn benchmark's peer.

Runs alone in the Ultralytics peer's environment (``make
bench-ultralytics-venv``: torch 2.14.1, torchvision 0.29.1; never the
project's), in a child process of ``benchmarks/rcnn_bench.py``, which
imports neither TensorFlow nor dlsuite here. It trains
``fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None)``
on the scenes the parent saved (numpy), at their own size (the model's
transform resizes to ``min_size = max_size = imgsz``, not its default
800), for the same wall time as ours, then writes its detections on the
test images as JSON for the parent to score with the same pycocotools code:

    .venv-ultralytics/bin/python benchmarks/peers/torchvision_frcnn.py SETTINGS.json

``SETTINGS.json``: ``data`` (npz: ``x_train, y_train, x_test``; boxes
padded ``(N, M, 5)`` rows ``x1, y1, x2, y2, class`` with -1 rows),
``output`` (JSON path), ``seconds``, ``imgsz``, ``batch``, ``threads``,
``learning_rate``, ``num_classes``, ``seed``.
"""

import json
import math
import pathlib
import sys
import time

import numpy as np


def _targets(rows, torch):
    rows = rows[rows[:, 4] >= 0]
    return {"boxes": torch.as_tensor(rows[:, :4], dtype=torch.float32),
            "labels": torch.as_tensor(rows[:, 4].astype(np.int64) + 1)}


def _images(batch, torch):
    x = torch.as_tensor(batch, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return list(x)


def main(path):
    settings = json.loads(pathlib.Path(path).read_text())
    import torch
    import torchvision
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    torch.set_num_threads(settings["threads"])
    torch.manual_seed(settings.get("seed", 0))
    with np.load(settings["data"]) as data:
        x_train, y_train, x_test = data["x_train"], data["y_train"], data["x_test"]
    size = settings["imgsz"]
    model = fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, num_classes=settings["num_classes"] + 1,
        min_size=size, max_size=size)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=settings["learning_rate"])
    initial = settings["learning_rate"]
    rng = np.random.default_rng(settings.get("seed", 0))
    batch = settings["batch"]
    model.train()
    start = time.perf_counter()
    steps = epochs = 0
    done = False
    while not done:
        order = rng.permutation(len(x_train))
        for first in range(0, len(order) - batch + 1, batch):
            # The same schedule as ours: cosine over the wall-clock budget.
            fraction = min(1.0, (time.perf_counter() - start) / settings["seconds"])
            for group in optimizer.param_groups:
                group["lr"] = initial * max(0.02, 0.5 * (1.0 + math.cos(math.pi * fraction)))
            index = order[first:first + batch]
            losses = model(_images(x_train[index], torch),
                           [_targets(rows, torch) for rows in y_train[index]])
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if time.perf_counter() - start >= settings["seconds"]:
                done = True
                break
        epochs += 1
    train_seconds = time.perf_counter() - start
    model.eval()
    detections = []
    with torch.no_grad():
        start = time.perf_counter()
        for first in range(0, len(x_test), 16):
            for found in model(_images(x_test[first:first + 16], torch)):
                detections.append({"boxes": found["boxes"].tolist(),
                                   "scores": found["scores"].tolist(),
                                   "classes": [int(c) - 1 for c in found["labels"].tolist()]})
        predict_seconds = time.perf_counter() - start
        single = []
        for index in range(min(30, len(x_test))):
            begin = time.perf_counter()
            model(_images(x_test[index:index + 1], torch))
            single.append(time.perf_counter() - begin)
    pathlib.Path(settings["output"]).write_text(json.dumps({
        "detections": detections, "train_seconds": train_seconds, "steps": steps,
        "epochs": epochs, "predict_seconds": predict_seconds,
        "batch_1_seconds": float(np.median(single[3:] if len(single) > 5 else single)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main(sys.argv[1])
