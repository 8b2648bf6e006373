"""Config fields the detection apps share: where the scenes come from, the
backbone, and the post-processing of detections."""

import dataclasses
import typing

from dlsuite.apps.kits.vision.architectures import ARCHITECTURES
from dlsuite.apps.data.annotations import FORMATS
from dlsuite.apps.data.detection import load_detection
from dlsuite.apps.data.scenes import SCENE_SOURCES, SceneSpec
from dlsuite.apps.runtime.config import BaseConfig, require_fraction, require_positive


@dataclasses.dataclass(frozen=True)
class SceneDataConfig(BaseConfig):
    """The data (generated scenes or your annotated folder) and the backbone."""

    # Scene source when data_dir is empty: real MNIST digits or Fashion-MNIST.
    dataset: typing.Literal[SCENE_SOURCES] = "mnist5k"
    # Format of the annotations in data_dir.
    format: typing.Literal[FORMATS] = "yolo"
    # Square model input; the scene canvas, or what your images are resized to.
    image_size: int = 128
    min_objects: int = 1
    max_objects: int = 6
    min_scale: float = 1.0
    max_scale: float = 3.0
    max_overlap: float = 0.2
    train_scenes: int = 6000
    dev_scenes: int = 300
    test_scenes: int = 500
    # Number of training scenes (dev and test shrink with it).
    limit: int | None = None
    # The backbone: a cnn architecture at this width, cut at this stride
    # (input pixels per cell of the feature map the head reads).
    arch: typing.Literal[ARCHITECTURES] = "resnet18"
    width: float = 0.25
    stride: int = 16

    def validate(self):
        super().validate()
        require_positive(self, "image_size", "train_scenes", "dev_scenes", "test_scenes",
                         "width", "stride")
        if self.limit is not None and self.limit < 10:
            raise ValueError(f"limit must be >= 10. Received: limit={self.limit}")
        if self.image_size < 32:
            raise ValueError(f"image_size must be >= 32. Received: image_size={self.image_size}")

    def scene_spec(self):
        return SceneSpec(canvas=self.image_size, min_objects=self.min_objects,
                         max_objects=self.max_objects, min_scale=self.min_scale,
                         max_scale=self.max_scale, max_overlap=self.max_overlap)

    def load(self):
        """The config's :class:`dlsuite.apps.data.DataSplits` (``dlsuite.apps.data.detection``)."""
        return load_detection(self.dataset, data_dir=self.data_dir, format=self.format,
                              image_size=self.image_size, seed=self.seed, limit=self.limit,
                              spec=None if self.data_dir else self.scene_spec(),
                              train_scenes=self.train_scenes, dev_scenes=self.dev_scenes,
                              test_scenes=self.test_scenes)


@dataclasses.dataclass(frozen=True)
class DetectionConfig(SceneDataConfig):
    """Scene data, backbone and the post-processing of a multi-object detector."""

    # Per-class NMS IoU, the lowest score kept (for mAP), the most
    # detections per image, and the score shown in pictures, predictions
    # and the error analysis.
    nms_iou_threshold: float = 0.5
    score_threshold: float = 0.01
    max_detections: int = 50
    display_threshold: float = 0.4
    # How many dev scenes TensorBoard shows with their boxes every epoch.
    logged_scenes: int = 8

    def validate(self):
        super().validate()
        require_positive(self, "max_detections")
        require_fraction(self, "nms_iou_threshold", "score_threshold", "display_threshold")
