"""What every detection app shares: config fields, data, the per-epoch
evaluation, the ``detect`` export, ``predict`` on files and the report.

A detector subclasses :class:`DetectionApp` and supplies ``build_model``
and ``raw_detections(model, config, data)``: a function from a float32
batch at the model's input size to boxes and per-class scores before NMS
(a detector that needs more than the images, such as proposals, also
overrides ``detections``).
Everything else (mAP by pycocotools every epoch, TensorBoard pictures, the
error analysis, the export's pre- and post-processing) is here, once.
"""

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.detection import evaluation, export, figures
from dlsuite.apps.kits.detection.config import DetectionConfig
from dlsuite.apps.runtime.app import App
from dlsuite.apps.runtime.figures import figure_to_png


def evaluate_split(app, model, config, data, images, true_boxes):
    """Detections on ``images`` and their COCO evaluation."""
    detections = app.detections(model, config, data, images)
    result = evaluation.coco_evaluate(true_boxes, detections, data.num_classes, images.shape[1:3])
    return detections, result


class DetectionEvaluation(keras.callbacks.Callback):
    """Every epoch: mAP@0.5 and COCO mAP@[.5:.95] on the dev set (added to
    the logs as ``val_map_50`` and ``val_map``, so TensorBoard, the history,
    early stopping and the best checkpoint see them), and, in TensorBoard's
    Images tab, dev scenes with predicted and true boxes and the per-class
    precision-recall curves, and in its Text tab the error analysis of the
    dev detections (:func:`dlsuite.apps.kits.detection.evaluation.error_analysis`). The
    test set is only looked at once, by the report."""

    def __init__(self, app, config, data, log_dir):
        super().__init__()
        self.app, self.config, self.data = app, config, data
        self.log_dir = str(log_dir)
        self.last = None

    def on_epoch_end(self, epoch, logs=None):
        if not len(self.data.x_dev):
            return
        detections, result = evaluate_split(self.app, self.model, self.config, self.data,
                                            self.data.x_dev, self.data.y_dev)
        self.last = result
        if logs is not None:
            logs["val_map_50"] = result["map_50"]
            logs["val_map"] = result["map"]
        count = self.config.logged_scenes
        pictures = {}
        if count:
            pictures["dev_scenes_true_red_predicted_green"] = figures.scene_grid(
                self.data.x_dev[:count], self.data.y_dev[:count], detections[:count],
                self.data.class_names, self.config.display_threshold)
        figure = figures.pr_curves_figure(result, self.data.class_names)
        pictures["dev_precision_recall"] = tf.io.decode_png(figure_to_png(figure),
                                                            channels=3).numpy()
        analysis = evaluation.error_analysis(self.data.y_dev, detections,
                                             self.config.display_threshold)
        truths = int((np.asarray(self.data.y_dev)[..., 4] >= 0).sum())
        writer = tf.summary.create_file_writer(f"{self.log_dir}/validation")
        with writer.as_default():
            for name, picture in pictures.items():
                tf.summary.image(name, picture[np.newaxis], step=epoch)
            tf.summary.text("detection_error_analysis",
                            evaluation.error_table(analysis["counts"], truths), step=epoch)
        writer.close()


class DetectionApp(App):
    """Base class of the detection apps (``yolo``, and the R-CNN family)."""

    config_class = DetectionConfig
    monitor = "val_map_50"
    monitor_mode = "max"

    def make_datasets(self, config):
        return config.load()

    def raw_detections(self, model, config, data):
        """``fn(float_images) -> (boxes (N, K, 4) xyxy, scores (N, K, C))``."""
        raise NotImplementedError

    def detections_function(self, model, config, data):
        """``export.detections_function`` of ``model``, built once and kept
        while the model and config stay the same: the per-epoch evaluation
        then traces the model once per run, not once per epoch."""
        cached = getattr(self, "_detections_function", None)
        if cached is None or cached[0] is not model or cached[1] is not config:
            function = export.detections_function(self.raw_detections(model, config, data),
                                                  config)
            cached = self._detections_function = (model, config, function)
        return cached[2]

    def detections(self, model, config, data, images):
        """Per-image detections after NMS of a numpy batch at the input size
        (``export.detect_arrays``); a detector that needs more than the
        images (proposals) overrides this."""
        return export.detect_arrays(self.detections_function(model, config, data), images)

    def callbacks(self, config, data, run):
        return [DetectionEvaluation(self, config, data, run.tb)]

    def export_endpoints(self, model, config, data):
        pool = data.x_test if len(data.x_test) >= 5 else data.x_train
        return [export.detect_endpoint(self.raw_detections(model, config, data), config,
                                       data.input_shape, data.class_names, pool)]

    def predict_files(self, loaded, paths):
        return export.predict_files(loaded, paths, self.config.display_threshold)

    def report(self, model, config, data, run):
        """Test mAP, per-class AP, PR curves, error analysis, annotated scenes."""
        sections, metrics = [], {}
        split_name, images, truths = (("test", data.x_test, data.y_test) if len(data.x_test)
                                      else ("dev", data.x_dev, data.y_dev))
        detections, result = evaluate_split(self, model, config, data, images, truths)
        analysis = evaluation.error_analysis(truths, detections, config.display_threshold)
        true_count = int((np.asarray(truths)[..., 4] >= 0).sum())
        metrics["detection"] = {
            "split": split_name, "map_50": result["map_50"], "map": result["map"],
            "ap_50_per_class": dict(zip(data.class_names, result["ap_50_per_class"])),
            "error_analysis": analysis["counts"], "true_objects": true_count,
            "display_threshold": config.display_threshold,
        }
        figures.save_png(figures.pr_curves_figure(result, data.class_names),
                         run.path / "precision_recall.png")
        figures.save_png(figures.scene_grid(images[:8], truths[:8], detections[:8],
                                            data.class_names, config.display_threshold),
                         run.path / "scenes.png")
        per_class = "\n".join(
            f"| {name} | {'-' if ap is None else f'{ap:.3f}'} |"
            for name, ap in zip(data.class_names, result["ap_50_per_class"]))
        sections += [
            f"## Detection ({split_name} set, pycocotools)\n",
            f"mAP@0.5 **{result['map_50']:.4f}**, COCO mAP@[.5:.95] **{result['map']:.4f}** "
            f"over {len(images)} images and {true_count} objects.\n",
            "| class | AP@0.5 |\n|---|---|\n" + per_class + "\n",
            "![precision-recall curves](precision_recall.png)\n",
            f"### Error analysis (detections with score >= {config.display_threshold:g})\n",
            evaluation.error_table(analysis["counts"], true_count) + "\n",
            "### Scenes (true boxes red, predicted green)\n\n![scenes](scenes.png)\n",
        ]
        return metrics, sections
