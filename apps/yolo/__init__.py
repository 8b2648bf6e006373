"""``yolo``: YOLO with anchor boxes on an S x S grid, from a ``cnn`` backbone.

``dlsuite train yolo`` trains on scenes of real MNIST digits (default) or
Fashion-MNIST images, or on your COCO / VOC / YOLO folder (``--set
data_dir=DIR format=coco|voc|yolo``). The grid is ``image_size / stride``
cells a side (the backbone, any ``cnn`` architecture, is cut at that
stride); each cell has ``anchors_per_cell`` anchors chosen by k-means on the
training boxes with 1 - IoU distance (:func:`dlsuite.layers.anchor_kmeans`). Each
slot predicts objectness, box offsets (sigmoid centre offsets within the
cell, anchor-scaled sizes) and class probabilities, trained by
:class:`dlsuite.losses.YOLOLoss`; :class:`dlsuite.layers.YOLOHead` decodes (score =
objectness x class probability) and per-class NMS keeps the best boxes.
Every epoch logs dev mAP@0.5 and mAP@[.5:.95] (pycocotools), scenes with
their boxes and the PR curves to TensorBoard. The export's
``detect(uint8 images)`` returns ``boxes, scores, classes, count``.
"""

import dataclasses
import typing

import keras

from dlsuite.apps.kits.detection.app import DetectionApp
from dlsuite.apps.kits.detection.config import DetectionConfig
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.config import require_positive
from dlsuite.apps.runtime.optim import compile_options, learning_rate_schedule, make_optimizer
from dlsuite.apps.yolo.model import box_sizes, build_detector
from dlsuite.layers import YOLOHead, anchor_kmeans, mean_best_iou
from dlsuite.losses import YOLOLoss


@dataclasses.dataclass(frozen=True)
class YOLOConfig(DetectionConfig):
    """The yolo app's settings; ``--set key=value`` changes any of them."""

    # The grid has image_size / stride cells a side: 128 / 16 = 8 x 8.
    anchors_per_cell: int = 3
    neck_filters: int = 64
    ignore_threshold: float = 0.5
    box_weight: float = 5.0
    # "ciou": 1 - CIoU of the decoded box (YOLOv4-v8); "squared": offsets and
    # log-sizes (YOLOv2/v3). Measured side by side (python -m benchmarks yolo):
    # CIoU test mAP@0.5 0.926 against 0.916, mAP@[.5:.95] 0.637 against 0.587.
    box_loss: typing.Literal["squared", "ciou"] = "ciou"
    background_weight: float = 1.0
    class_weight: float = 1.0
    # Slots whose box overlaps a true box (IoU > ignore_threshold) learn its class too.
    overlap_classes: bool = True
    batch_size: int = 32
    epochs: int = 30
    learning_rate: float = 2e-3
    # "cosine": warm up for warmup_epochs, then anneal to 1% over the run.
    lr_schedule: typing.Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = 1.0
    patience: int = 10

    def validate(self):
        super().validate()
        require_positive(self, "anchors_per_cell", "neck_filters")
        if not 0.0 <= self.ignore_threshold <= 1.0:
            raise ValueError(f"ignore_threshold must be in [0, 1]. "
                             f"Received: ignore_threshold={self.ignore_threshold}")
        if self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0. Received: "
                             f"warmup_epochs={self.warmup_epochs}")


@register_app("yolo")
class YOLOApp(DetectionApp):
    config_class = YOLOConfig
    description = ("YOLO with k-means anchor boxes on a cnn backbone; scenes of real digits or "
                   "clothing, or your COCO/VOC/YOLO data; exports detect()")

    def anchors(self, config, data):
        """k-means anchors of the training boxes (deterministic, cached per data)."""
        key = (id(data), config.anchors_per_cell)
        if getattr(self, "_anchors_key", None) != key:
            sizes = box_sizes(data.y_train)
            self._anchors = [tuple(float(v) for v in pair) for pair in keras.ops.convert_to_numpy(
                anchor_kmeans(sizes, config.anchors_per_cell))]
            self._anchor_fit = float(mean_best_iou(sizes, self._anchors))
            self._anchors_key = key
        return self._anchors

    def build_model(self, config, data):
        anchors = self.anchors(config, data)
        model = build_detector(config, data.input_shape, data.num_classes, anchors)
        loss = YOLOLoss(anchors, config.image_size, data.num_classes,
                        ignore_threshold=config.ignore_threshold, box_weight=config.box_weight,
                        background_weight=config.background_weight,
                        class_weight=config.class_weight,
                        overlap_classes=config.overlap_classes, box_loss=config.box_loss)
        optimizer = make_optimizer(config, learning_rate_schedule(config, len(data.x_train)))
        model.compile(optimizer=optimizer, loss=loss, **compile_options(config))
        return model

    def raw_detections(self, model, config, data):
        head = YOLOHead(self.anchors(config, data), config.image_size, data.num_classes,
                        dtype="float32")

        def detections(images):
            decoded = head(model(images, training=False))
            return decoded[..., :4], decoded[..., 4:]

        return detections

    def report(self, model, config, data, run):
        metrics, sections = super().report(model, config, data, run)
        anchors = self.anchors(config, data)
        grid = config.image_size // config.stride
        metrics["anchors"] = [list(pair) for pair in anchors]
        metrics["anchor_mean_best_iou"] = self._anchor_fit
        sections.insert(0, (
            f"## Grid and anchors\n\n{grid} x {grid} grid (stride {config.stride}), "
            f"{len(anchors)} anchors per cell by k-means (1 - IoU) on the training boxes: "
            + ", ".join(f"{w:.1f} x {h:.1f}" for w, h in anchors)
            + f" (mean best IoU with a training box {self._anchor_fit:.3f}).\n"))
        return metrics, sections
