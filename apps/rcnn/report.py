"""What the R-CNN family shows about its proposals: their recall (every
epoch in TensorBoard, and in the report) and pictures of them."""

import time

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.detection import figures
from dlsuite.apps.rcnn import proposals as proposal_search
from dlsuite.apps.rcnn.targets import recall

# The proposal counts recall is reported at.
RECALL_COUNTS = (100, 300)
# Proposals drawn per scene in the pictures (the best first).
SHOWN = 10


def rpn_proposals(model, images, count, batch_size=32):
    """``faster``: the RPN's top ``count`` proposals of numpy ``images``:
    boxes ``(N, count, 4)``, objectness ``(N, count)``, mask ``(N, count)``."""
    run = tf.function(lambda x: model.proposals(x, count))
    parts = [run(tf.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32)))
             for start in range(0, len(images), batch_size)]
    return tuple(np.concatenate([part[index].numpy() for part in parts]) for index in range(3))


def proposals_of(app, model, config, images):
    """Proposals of ``images`` by the variant's own method, ranked: boxes,
    scores (objectness for the RPN, 1 for selective search), mask."""
    if app.uses_search(config):
        boxes = app.proposals_for(images, config)
        valid = (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
        return boxes, valid.astype(np.float32), valid
    return rpn_proposals(model, images, max(RECALL_COUNTS))


def proposal_grid(images, truths, boxes, scores, valid, class_names, count=SHOWN):
    """Scenes with their true boxes (red, named) and best ``count``
    proposals (green, with their score)."""
    names = list(class_names) + [""]
    detections = [(b[m][:count], s[m][:count],
                   np.full(int(min(m.sum(), count)), len(class_names), np.int64))
                  for b, s, m in zip(boxes, scores, np.asarray(valid, bool))]
    return figures.scene_grid(images, truths, detections, names, 0.0)


class ProposalLogger(keras.callbacks.Callback):
    """Every epoch, for ``faster``: the RPN's recall of the dev boxes at
    IoU 0.5 with its best 100 and 300 proposals (``val_rpn_recall_100``,
    ``val_rpn_recall_300`` in the logs, so TensorBoard and the history have
    them) and its best proposals on a few dev scenes (Images tab). For
    ``rcnn`` and ``fast`` selective search's proposals do not change: their
    recall and picture are logged once, at the first epoch."""

    def __init__(self, app, config, data, log_dir):
        super().__init__()
        self.app, self.config, self.data = app, config, data
        self.log_dir = str(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        searching = self.app.uses_search(self.config)
        if not len(self.data.x_dev) or (searching and epoch > 0):
            return
        boxes, scores, valid = proposals_of(self.app, self.model, self.config, self.data.x_dev)
        found = recall(boxes, valid, self.data.y_dev, RECALL_COUNTS)
        name = "search_recall" if searching else "rpn_recall"
        if logs is not None:
            for count, value in found.items():
                logs[f"val_{name}_{count}"] = value
        count = self.config.logged_scenes
        if not count:
            return
        picture = proposal_grid(self.data.x_dev[:count], self.data.y_dev[:count], boxes[:count],
                                scores[:count], valid[:count], self.data.class_names)
        writer = tf.summary.create_file_writer(f"{self.log_dir}/validation")
        with writer.as_default():
            tf.summary.image(f"dev_{'search' if searching else 'rpn'}_proposals",
                             picture[np.newaxis], step=epoch)
        writer.close()


def proposal_report(app, model, config, data, run):
    """The proposals' section of the report: recall on the test set at 100
    and 300 proposals, how many there are, the time selective search takes
    per image, and ``proposals.png``."""
    images, truths = (data.x_test, data.y_test) if len(data.x_test) else (data.x_dev, data.y_dev)
    boxes, scores, valid = proposals_of(app, model, config, images)
    found = recall(boxes, valid, truths, RECALL_COUNTS)
    metrics = {"recall_at": {str(count): value for count, value in found.items()},
               "per_image": float(np.asarray(valid, bool).sum(1).mean()) if len(images) else 0.0}
    figures.save_png(proposal_grid(images[:8], truths[:8], boxes[:8], scores[:8], valid[:8],
                                   data.class_names), run.path / "proposals.png")
    if app.uses_search(config):
        settings = config.search_settings()
        sample = images[:20]
        start = time.perf_counter()
        for image in sample:
            proposal_search.search(image, settings)
        metrics["search_ms_per_image"] = 1000 * (time.perf_counter() - start) / max(len(sample), 1)
        metrics["method"] = f"selective search ({settings.mode}, k={settings.k})"
        how = (f"Selective search ({settings.mode} strategy, k = {settings.k}, sigma "
               f"{settings.sigma:g}; OpenCV, outside the graph) proposes "
               f"{metrics['per_image']:.0f} regions per image on average (at most "
               f"{settings.max_proposals} kept), in {metrics['search_ms_per_image']:.1f} ms an "
               "image on one core.")
    else:
        metrics["method"] = "region proposal network"
        how = (f"The region proposal network scores {len(model.anchor_boxes)} anchors "
               f"({len(config.anchor_sizes) * len(config.anchor_ratios)} per cell of the "
               f"stride-{config.stride} map: sizes {list(config.anchor_sizes)}, height / width "
               f"{list(config.anchor_ratios)}); after NMS at IoU {config.rpn_nms_iou:g} the best "
               f"{config.test_proposals} go to the second stage.")
    lines = " and ".join(f"**{value:.3f}** with {count}" for count, value in found.items())
    section = ("## Proposals\n\n" + how + f" Recall of the true boxes (IoU >= 0.5): {lines} "
               "proposals per image.\n\n![proposals (best 10 per scene)](proposals.png)\n")
    return metrics, section
