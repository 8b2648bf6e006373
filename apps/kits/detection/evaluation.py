"""Detection quality: COCO mAP by pycocotools, precision-recall curves, and
the error analysis of detections.

``coco_evaluate`` feeds ground truths and detections to COCO's own
evaluator (``pycocotools.cocoeval.COCOeval``), in memory: mAP@0.5,
mAP@[.5:.95] and each class's AP and precision-recall curve at IoU 0.5 are
read from its results. ``error_analysis`` sorts the detections above an
operating threshold into Hoiem et al.'s kinds of error ("Diagnosing Error
in Object Detectors", 2012).

Ground truths are padded ``(N, M, 5)`` rows ``x1, y1, x2, y2, class``
(class -1 pads); detections are per image ``(boxes (D, 4), scores (D,),
classes (D,))``.
"""

import contextlib
import io

import numpy as np

ERROR_KINDS = ("correct", "duplicate", "mislocalised", "wrong class", "background", "missed")


def _real(rows):
    rows = np.asarray(rows, np.float32).reshape(-1, 5)
    return rows[rows[:, 4] >= 0]


def _coco_ground_truth(true_boxes, image_shapes, num_classes):
    from pycocotools.coco import COCO

    images, annotations = [], []
    for index, rows in enumerate(true_boxes):
        height, width = image_shapes[index]
        images.append({"id": index + 1, "height": int(height), "width": int(width)})
        for x1, y1, x2, y2, label in _real(rows):
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1,
                                "category_id": int(label) + 1,
                                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                                "area": float((x2 - x1) * (y2 - y1)), "iscrowd": 0})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": annotations,
                    "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def coco_detections(detections):
    """Per-image detections -> COCO result dicts (``bbox`` as x, y, w, h)."""
    results = []
    for index, (boxes, scores, classes) in enumerate(detections):
        for (x1, y1, x2, y2), score, label in zip(np.asarray(boxes), np.asarray(scores),
                                                  np.asarray(classes)):
            results.append({"image_id": index + 1, "category_id": int(label) + 1,
                            "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                            "score": float(score)})
    return results


def coco_evaluate(true_boxes, detections, num_classes, image_shapes):
    """COCO evaluation of ``detections`` against ``true_boxes``.

    ``image_shapes`` is ``(height, width)`` per image (or one pair for all).
    Returns ``{"map_50", "map", "ap_50_per_class", "recall", "precision"}``:
    mAP at IoU 0.5, mAP averaged over IoU 0.50:0.05:0.95 (COCO's primary
    metric), each class's AP at IoU 0.5 (None for a class without ground
    truth), and the PR curves at IoU 0.5: ``recall`` the 101 recall points,
    ``precision`` ``(num_classes, 101)`` (NaN where undefined).
    """
    from pycocotools.cocoeval import COCOeval

    if np.ndim(image_shapes) == 1:
        image_shapes = [tuple(image_shapes)] * len(true_boxes)
    ground_truth = _coco_ground_truth(true_boxes, image_shapes, num_classes)
    results = coco_detections(detections)
    recall_points = np.linspace(0.0, 1.0, 101)
    empty = {"map_50": 0.0, "map": 0.0, "ap_50_per_class": [0.0] * num_classes,
             "recall": recall_points.tolist(),
             "precision": np.zeros((num_classes, 101)).tolist()}
    if not results or not ground_truth.dataset["annotations"]:
        return empty
    with contextlib.redirect_stdout(io.StringIO()):
        predicted = ground_truth.loadRes(results)
        evaluator = COCOeval(ground_truth, predicted, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # precision: [IoU threshold, recall point, class, area range, max detections]
    precision = evaluator.eval["precision"][0, :, :, 0, -1].T.astype(np.float64)
    per_class = []
    for curve in precision:
        valid = curve[curve > -1]
        per_class.append(float(valid.mean()) if len(valid) else None)
    precision[precision < 0] = np.nan
    return {"map_50": float(max(evaluator.stats[1], 0.0)),
            "map": float(max(evaluator.stats[0], 0.0)),
            "ap_50_per_class": per_class, "recall": recall_points.tolist(),
            "precision": precision.tolist()}


def pairwise_iou(boxes1, boxes2):
    """numpy IoU ``(K1, K2)`` of xyxy boxes (zero-area boxes overlap nothing)."""
    boxes1 = np.asarray(boxes1, np.float64).reshape(-1, 4)
    boxes2 = np.asarray(boxes2, np.float64).reshape(-1, 4)
    width = np.clip(np.minimum(boxes1[:, None, 2], boxes2[None, :, 2])
                    - np.maximum(boxes1[:, None, 0], boxes2[None, :, 0]), 0, None)
    height = np.clip(np.minimum(boxes1[:, None, 3], boxes2[None, :, 3])
                     - np.maximum(boxes1[:, None, 1], boxes2[None, :, 1]), 0, None)
    overlap = width * height
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    union = area1[:, None] + area2[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def classify_detections(true_rows, boxes, scores, classes, iou_threshold=0.5,
                        background_iou=0.1):
    """The kind of each detection of one image, and how many truths were missed.

    Detections are taken by decreasing score. A detection is *correct* if
    it overlaps an unmatched truth of its class by ``iou_threshold`` or
    more (and matches it), a *duplicate* if that truth was already matched,
    *mislocalised* if its best overlap with a truth of its class is in
    ``[background_iou, iou_threshold)``, *wrong class* if it overlaps a
    truth of another class by ``background_iou`` or more, else
    *background*. Truths no detection matched are *missed*.
    Returns ``(kinds, missed_indices)``.
    """
    truths = _real(true_rows)
    order = np.argsort(-np.asarray(scores), kind="stable")
    overlaps = pairwise_iou(np.asarray(boxes)[order], truths[:, :4])
    matched = np.zeros(len(truths), bool)
    kinds = [None] * len(order)
    for rank, index in enumerate(order):
        label = int(classes[index])
        same = truths[:, 4] == label
        same_overlap = np.where(same, overlaps[rank], 0.0) if len(truths) else np.zeros(0)
        if len(truths) and same_overlap.max() >= iou_threshold:
            free = np.where(same & ~matched, overlaps[rank], 0.0)
            if free.max() >= iou_threshold:
                matched[int(free.argmax())] = True
                kinds[index] = "correct"
            else:
                kinds[index] = "duplicate"
        elif len(truths) and same_overlap.max() >= background_iou:
            kinds[index] = "mislocalised"
        elif len(truths) and np.where(~same, overlaps[rank], 0.0).max() >= background_iou:
            kinds[index] = "wrong class"
        else:
            kinds[index] = "background"
    return kinds, np.flatnonzero(~matched)


def error_analysis(true_boxes, detections, score_threshold):
    """Counts of each kind in :data:`ERROR_KINDS` over a set of images, for
    the detections scoring at least ``score_threshold``, and per-image kinds
    (``{"counts", "per_image"}``)."""
    counts = dict.fromkeys(ERROR_KINDS, 0)
    per_image = []
    for rows, (boxes, scores, classes) in zip(true_boxes, detections):
        keep = np.asarray(scores) >= score_threshold
        kinds, missed = classify_detections(rows, np.asarray(boxes)[keep],
                                            np.asarray(scores)[keep], np.asarray(classes)[keep])
        for kind in kinds:
            counts[kind] += 1
        counts["missed"] += len(missed)
        per_image.append({"kinds": kinds, "missed": missed.tolist(), "keep": keep})
    return {"counts": counts, "per_image": per_image}


def error_table(counts, truths):
    """Markdown table of :func:`error_analysis` counts."""
    detections = sum(counts[kind] for kind in ERROR_KINDS if kind != "missed")
    lines = ["| kind | count | share |", "|---|---|---|"]
    for kind in ERROR_KINDS:
        base = truths if kind == "missed" else detections
        share = f"{counts[kind] / base:.1%} of {'true objects' if kind == 'missed' else 'detections'}" \
            if base else "-"
        lines.append(f"| {kind} | {counts[kind]} | {share} |")
    return "\n".join(lines)
