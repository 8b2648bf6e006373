"""``rcnn``: the R-CNN family, ``--set variant=rcnn|fast|faster``.

``dlsuite train rcnn`` trains on the same scenes as ``yolo`` (real MNIST
digits, or Fashion-MNIST images, or your COCO / VOC / YOLO folder):

- ``variant=rcnn``: selective search proposes regions
  (:mod:`dlsuite.apps.rcnn.proposals`, computed once per image and cached in the
  run); each is warped to ``warp_size`` pixels and classified, with
  per-class box regression, by a ``cnn`` network of its own;
- ``variant=fast``: the same proposals, one backbone pass per image, ROI
  pooling on the shared map and a multi-task head;
- ``variant=faster`` (default): a region proposal network on anchors of
  the shared map proposes the regions, ROI align pools them, and the whole
  trains end to end.

Per-class NMS follows (``dlsuite.apps.kits.detection``). Every epoch logs dev mAP@0.5
and mAP@[.5:.95] (pycocotools), scenes and PR curves to TensorBoard, and
the proposals' recall (and, for ``faster``, its proposals on dev scenes).
The export's ``detect`` returns ``boxes, scores, classes, count``; for
``rcnn`` and ``fast`` it takes ``(images, proposals)``, and ``dlsuite
predict`` runs selective search on each file outside the graph first.
"""

import dataclasses
import typing

import numpy as np

from dlsuite.apps.data.detection import resize_with_boxes
from dlsuite.apps.kits.detection import export
from dlsuite.apps.kits.detection.app import DetectionApp
from dlsuite.apps.kits.detection.config import DetectionConfig
from dlsuite.apps.rcnn import proposals as proposal_search
from dlsuite.apps.rcnn import report as rcnn_report
from dlsuite.apps.rcnn.model import VARIANTS, build_detector
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.config import require_fraction, require_positive
from dlsuite.apps.runtime.optim import compile_options, learning_rate_schedule, make_optimizer


@dataclasses.dataclass(frozen=True)
class RCNNConfig(DetectionConfig):
    """The rcnn app's settings; ``--set key=value`` changes any of them."""

    variant: typing.Literal[VARIANTS] = "faster"
    # fast / faster: the backbone cut at stride 8 (a 16 x 16 map at 128 px).
    stride: int = 8
    width: float = 0.5
    # Selective search (rcnn, fast): strategy, Felzenszwalb k and sigma,
    # proposals kept per image; where they are cached ("" = RUN/proposals).
    search_mode: typing.Literal[proposal_search.SEARCH_MODES] = "fast"
    search_k: int = 100
    search_sigma: float = 0.8
    max_proposals: int = 200
    proposals_dir: str = ""
    # Second stage: regions sampled per image, their foreground share and
    # IoU, pooled grid, head width; rcnn's warped size and context margin.
    rois_per_image: int = 64
    foreground_fraction: float = 0.25
    foreground_iou: float = 0.5
    pooled_size: int = 7
    head_units: int = 256
    warp_size: int = 32
    context_padding: float = 0.1
    box_weight: float = 1.0
    # Region proposal network (faster): anchor sizes (square root of the
    # area, pixels) and height / width ratios at every cell, and proposals.
    anchor_sizes: tuple[int, ...] = (20, 32, 50)
    anchor_ratios: tuple[float, ...] = (1.0, 1.6, 2.6)
    rpn_filters: int = 64
    rpn_batch: int = 256
    rpn_positive_iou: float = 0.7
    rpn_negative_iou: float = 0.3
    rpn_nms_iou: float = 0.7
    pre_nms_proposals: int = 1000
    train_proposals: int = 300
    test_proposals: int = 100
    min_proposal_size: float = 2.0
    batch_size: int = 8
    epochs: int = 20
    learning_rate: float = 1e-3
    lr_schedule: typing.Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = 0.5
    patience: int = 10

    def validate(self):
        super().validate()
        require_positive(self, "search_k", "search_sigma", "max_proposals", "rois_per_image",
                         "pooled_size", "head_units", "warp_size", "rpn_filters", "rpn_batch",
                         "pre_nms_proposals", "train_proposals", "test_proposals")
        require_fraction(self, "foreground_fraction", "foreground_iou", "rpn_positive_iou",
                         "rpn_negative_iou", "rpn_nms_iou")
        for name in ("context_padding", "box_weight", "min_proposal_size", "warmup_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={getattr(self, name)}")
        if self.rpn_negative_iou > self.rpn_positive_iou:
            raise ValueError("rpn_negative_iou must be <= rpn_positive_iou. Received: "
                             f"rpn_negative_iou={self.rpn_negative_iou}, "
                             f"rpn_positive_iou={self.rpn_positive_iou}")
        if not self.anchor_sizes or min(self.anchor_sizes) <= 0:
            raise ValueError(f"anchor_sizes must be positive. Received: "
                             f"anchor_sizes={self.anchor_sizes}")
        if not self.anchor_ratios or min(self.anchor_ratios) <= 0:
            raise ValueError(f"anchor_ratios must be positive. Received: "
                             f"anchor_ratios={self.anchor_ratios}")
        if self.variant == "faster" and self.stride & (self.stride - 1):
            raise ValueError(f"stride must be a power of two for the anchors. "
                             f"Received: stride={self.stride}")

    def search_settings(self):
        return proposal_search.SearchSettings(mode=self.search_mode, k=self.search_k,
                                              sigma=self.search_sigma,
                                              max_proposals=self.max_proposals)

    def model_settings(self):
        """The plain values :class:`dlsuite.apps.rcnn.model.TwoStageDetector` keeps."""
        names = ("variant", "image_size", "stride", "pooled_size", "warp_size", "context_padding",
                 "rois_per_image", "foreground_fraction", "foreground_iou", "box_weight",
                 "anchor_sizes", "anchor_ratios", "rpn_filters", "rpn_batch",
                 "rpn_positive_iou", "rpn_negative_iou", "rpn_nms_iou", "pre_nms_proposals",
                 "train_proposals", "test_proposals", "min_proposal_size", "seed")
        return {name: (list(getattr(self, name)) if isinstance(getattr(self, name), tuple)
                       else getattr(self, name)) for name in names}


# Images per batch when detecting a split: rcnn runs its CNN on every
# proposal, fast's ROI pooling holds batch x R x pw x H x W x C.
DETECTION_BATCH = {"rcnn": 8, "fast": 4, "faster": 32}


@register_app("rcnn")
class RCNNApp(DetectionApp):
    config_class = RCNNConfig
    description = ("R-CNN, Fast R-CNN and Faster R-CNN (--set variant=rcnn|fast|faster): "
                   "selective search or an RPN, ROI pooling / align; exports detect()")
    _run_path = None
    _cache = None

    def open_run(self, run):
        self._run_path = run.path

    def uses_search(self, config):
        return config.variant != "faster"

    def proposal_cache(self, config):
        """Selective-search proposals, cached in ``proposals_dir`` or the run."""
        directory = config.proposals_dir or (
            self._run_path / "proposals" if self._run_path is not None else None)
        key = (str(directory), config.search_settings())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, proposal_search.ProposalCache(directory, key[1]))
        return self._cache[1]

    def proposals_for(self, images, config=None):
        return self.proposal_cache(config or self.config).get(images)

    def to_inputs(self, x, y):
        if not self.uses_search(self.config):
            return (x, y)
        return ({"images": x, "proposals": self.proposals_for(x)}, y)

    def build_model(self, config, data):
        model = build_detector(config.model_settings(), config, data.input_shape,
                               data.num_classes)
        optimizer = make_optimizer(config, learning_rate_schedule(config, len(data.x_train)))
        model.compile(optimizer=optimizer, **compile_options(config))
        model.build_optimizers()
        return model

    def raw_detections(self, model, config, data):
        return model.raw_detections

    def detections(self, model, config, data, images):
        found = (self.proposals_for(images, config) if self.uses_search(config) else None)
        return export.detect_arrays(self.detections_function(model, config, data), images,
                                    batch_size=DETECTION_BATCH[config.variant], proposals=found)

    def callbacks(self, config, data, run):
        return super().callbacks(config, data, run) + [
            rcnn_report.ProposalLogger(self, config, data, run.tb)]

    def export_endpoints(self, model, config, data):
        pool = data.x_test if len(data.x_test) >= 5 else data.x_train
        examples = (self.proposals_for(pool, config)[:8] if self.uses_search(config) else None)
        return [export.detect_endpoint(model.raw_detections, config, data.input_shape,
                                       data.class_names, pool, example_proposals=examples)]

    def search_file(self, image):
        """Selective search on one file's image, as training saw scenes: at
        the model's input size, boxes scaled back to the file's pixels."""
        config = self.config
        channels = 1 if image.shape[-1] == 1 else 3
        resized, _ = resize_with_boxes([image], [np.zeros((0, 5), np.float32)],
                                       config.image_size, channels)
        boxes = proposal_search.search(resized[0], config.search_settings())
        if not len(boxes):
            boxes = np.array([[0, 0, config.image_size, config.image_size]], np.float32)
        height, width = image.shape[:2]
        scale = np.array([width, height, width, height], np.float32) / config.image_size
        return [boxes * scale]

    def predict_files(self, loaded, paths):
        extra = self.search_file if self.uses_search(self.config) else None
        return export.predict_files(loaded, paths, self.config.display_threshold,
                                    extra_inputs=extra)

    def report(self, model, config, data, run):
        metrics, sections = super().report(model, config, data, run)
        found, section = rcnn_report.proposal_report(self, model, config, data, run)
        metrics["proposals"] = found
        sections.insert(0, section)
        return metrics, sections
