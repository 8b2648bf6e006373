"""Pictures of detections: labelled boxes on images, scene grids, PR curves.

Used by the run report, by TensorBoard every epoch and by ``dlsuite
predict``. Boxes are drawn with PIL on a copy of the image scaled up to at
least :data:`MIN_SIDE` pixels so that labels stay legible on small scenes.
"""

import numpy as np
from PIL import Image, ImageDraw

from dlsuite.apps.runtime.figures import figure_to_png, pyplot as plt

MIN_SIDE = 256
PREDICTED = (40, 220, 40)
TRUE = (230, 40, 40)


def draw_boxes(image, boxes=(), labels=(), true_boxes=(), true_labels=()):
    """An RGB uint8 copy of ``image`` (``(H, W, 1 or 3)``) with predicted boxes
    in green, each with its ``labels`` text, and true boxes in red."""
    image = np.asarray(image, np.uint8)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    factor = max(1, int(np.ceil(MIN_SIDE / max(1, min(image.shape[:2])))))
    picture = Image.fromarray(image).resize((image.shape[1] * factor, image.shape[0] * factor),
                                            Image.NEAREST)
    draw = ImageDraw.Draw(picture)
    for colour, found, texts in ((TRUE, true_boxes, true_labels), (PREDICTED, boxes, labels)):
        for index, box in enumerate(np.asarray(found, np.float64).reshape(-1, 4)):
            x1, y1, x2, y2 = (float(v) * factor for v in box)
            draw.rectangle([x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)], outline=colour, width=2)
            text = texts[index] if index < len(texts) else ""
            if text:
                top = y1 - 11 if y1 >= 11 else y2 + 1
                draw.rectangle([x1, top, x1 + 6 * len(text) + 2, top + 10], fill=colour)
                draw.text((x1 + 1, top), text, fill=(0, 0, 0))
    return np.asarray(picture)


def detection_labels(classes, scores, class_names):
    return [f"{class_names[int(c)]} {float(s):.2f}" for c, s in zip(classes, scores)]


def scene_grid(images, true_boxes, detections, class_names, score_threshold, columns=4):
    """One uint8 picture: each scene with its true (red) and predicted
    (green, labelled, score >= ``score_threshold``) boxes."""
    tiles = []
    for image, rows, (boxes, scores, classes) in zip(images, true_boxes, detections):
        rows = np.asarray(rows).reshape(-1, 5)
        rows = rows[rows[:, 4] >= 0]
        keep = np.asarray(scores) >= score_threshold
        tiles.append(draw_boxes(image, np.asarray(boxes)[keep],
                                detection_labels(np.asarray(classes)[keep],
                                                 np.asarray(scores)[keep], class_names),
                                rows[:, :4], [class_names[int(c)] for c in rows[:, 4]]))
    height, width = tiles[0].shape[:2]
    count_rows = (len(tiles) + columns - 1) // columns
    grid = np.full((count_rows * (height + 4), min(columns, len(tiles)) * (width + 4), 3), 255,
                   np.uint8)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, columns)
        grid[row * (height + 4):row * (height + 4) + height,
             col * (width + 4):col * (width + 4) + width] = tile
    return grid


def pr_curves_figure(evaluation, class_names):
    """Matplotlib figure of each class's precision-recall curve at IoU 0.5."""
    figure, axis = plt.subplots(figsize=(6, 4.5))
    recall = np.asarray(evaluation["recall"])
    for index, (curve, ap) in enumerate(zip(evaluation["precision"],
                                            evaluation["ap_50_per_class"])):
        if ap is None:
            continue
        axis.plot(recall, np.asarray(curve, np.float64), label=f"{class_names[index]} (AP {ap:.3f})",
                  linewidth=1.2)
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.02)
    axis.set_title(f"precision-recall at IoU 0.5: mAP@0.5 {evaluation['map_50']:.3f}, "
                   f"mAP@[.5:.95] {evaluation['map']:.3f}", fontsize=9)
    axis.legend(fontsize=7, loc="lower left", ncol=2)
    figure.tight_layout()
    return figure


def save_png(array_or_figure, path):
    """Save a uint8 picture or a matplotlib figure as a PNG file."""
    if isinstance(array_or_figure, np.ndarray):
        Image.fromarray(array_or_figure).save(path)
    else:
        path.write_bytes(figure_to_png(array_or_figure))
    return path
