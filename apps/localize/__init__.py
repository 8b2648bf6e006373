"""``localize``: classification with localization, one object per image.

The curriculum's first detection model: a ``cnn`` backbone and two heads,
class probabilities (softmax) and the box ``(bx, by, bh, bw)``: centre x,
centre y, height and width as fractions of the image (sigmoid), the
curriculum's parameterisation. The loss is cross-entropy plus
``box_weight`` x the squared error of the box. Every epoch logs the class
accuracy and the mean IoU of predicted and true boxes
(:class:`MeanBoxIoU`, ``keras.utils.bounding_boxes.compute_iou``).

Data: scenes of one real MNIST digit (or Fashion-MNIST image) at a random
place and scale on a canvas (``dlsuite.apps.data.scenes``), or your COCO / VOC /
YOLO folder, keeping each image's largest box. The export's
``localize(uint8 images)`` returns the class, its probability and the box,
both as ``(bx, by, bh, bw)`` fractions and as ``x1, y1, x2, y2`` pixels of
the image given.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.vision import prepare_images, read_image
from dlsuite.apps.kits.detection import figures
from dlsuite.apps.kits.detection.backbone import feature_extractor
from dlsuite.apps.kits.detection.config import SceneDataConfig
from dlsuite.apps.kits.detection.export import call_signature, output_path
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime import signature_inputs
from dlsuite.apps.runtime.app import App, Endpoint, batch_size_for_check
from dlsuite.apps.runtime.config import require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.optim import compile_options, make_optimizer


@dataclasses.dataclass(frozen=True)
class LocalizeConfig(SceneDataConfig):
    """The localize app's settings; ``--set key=value`` changes any of them."""

    # One object per 64 x 64 scene, at x1 to x2 its size.
    image_size: int = 64
    max_objects: int = 1
    max_scale: float = 2.0
    hidden_units: int = 128
    box_weight: float = 10.0
    batch_size: int = 64
    epochs: int = 20
    learning_rate: float = 2e-3

    def validate(self):
        super().validate()
        require_positive(self, "hidden_units")
        if self.box_weight < 0:
            raise ValueError(f"box_weight must be >= 0. Received: box_weight={self.box_weight}")


def to_curriculum(boxes, size):
    """xyxy pixel rows ``(N, 4)`` -> ``(bx, by, bh, bw)`` fractions of a square image."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, y2 - y1, x2 - x1], axis=1) / size


def curriculum_to_xyxy(box, width, height):
    """``(..., 4)`` (bx, by, bh, bw) fractions -> xyxy pixels of a width x height image."""
    bx, by, bh, bw = (box[..., i] for i in range(4))
    return tf.stack([(bx - bw / 2) * width, (by - bh / 2) * height,
                     (bx + bw / 2) * width, (by + bh / 2) * height], axis=-1)


@keras.saving.register_keras_serializable(package="dlsuite")
class MeanBoxIoU(keras.metrics.Mean):
    """Mean IoU of true and predicted ``(bx, by, bh, bw)`` boxes, one per example.

    IoU is unchanged by scaling either axis, so fractions of the image give
    the IoU of the pixel boxes. Computed with
    ``keras.utils.bounding_boxes.compute_iou`` (format ``center_xywh``).
    """

    def __init__(self, name="iou", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        order = [0, 1, 3, 2]  # (bx, by, bh, bw) -> (cx, cy, w, h)
        true = keras.ops.take(keras.ops.cast(y_true, "float32"), order, axis=-1)[:, None, :]
        pred = keras.ops.take(keras.ops.cast(y_pred, "float32"), order, axis=-1)[:, None, :]
        overlap = keras.utils.bounding_boxes.compute_iou(true, pred, "center_xywh")
        return super().update_state(keras.ops.reshape(overlap, (-1,)), sample_weight)


def largest_box(boxes):
    """The largest real row of each image's padded ``(N, M, 5)`` boxes: ``(N, 5)``."""
    area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    area = np.where(boxes[..., 4] >= 0, area, -1.0)
    return boxes[np.arange(len(boxes)), area.argmax(axis=1)]


def build_localizer(config, input_shape, num_classes):
    features = feature_extractor(config.arch, input_shape, config.width, config.stride)
    x = keras.layers.Flatten(name="flatten")(features.output)
    x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
    classes = keras.layers.Dense(num_classes, name="class_logits")(x)
    classes = keras.layers.Activation("softmax", dtype="float32", name="class")(classes)
    box = keras.layers.Dense(4, name="box_logits")(x)
    box = keras.layers.Activation("sigmoid", dtype="float32", name="box")(box)
    return keras.Model(features.input, {"class": classes, "box": box}, name="localizer")


@register_app("localize")
class LocalizeApp(App):
    config_class = LocalizeConfig
    description = ("classification with localization: one object per image, class + "
                   "(bx, by, bh, bw); exports localize()")
    monitor = "val_box_iou"
    monitor_mode = "max"

    def make_datasets(self, config):
        data = config.load()
        for split in ("train", "dev", "test"):
            images, boxes = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            keep = (boxes[..., 4] >= 0).any(axis=1) if len(boxes) else np.zeros(0, bool)
            setattr(data, f"x_{split}", images[keep])
            setattr(data, f"y_{split}", largest_box(boxes[keep]) if keep.any()
                    else np.zeros((0, 5), np.float32))
        if not len(data.x_train):
            raise UsageError(f"{data.source}: no training image has a box")
        # to_inputs one-hot encodes the classes with this count.
        self._num_classes = data.num_classes
        return data

    def to_inputs(self, x, y):
        labels = keras.utils.to_categorical(y[:, 4].astype(int), self._num_classes)
        return (x, {"class": labels.astype("float32"),
                    "box": to_curriculum(y[:, :4], x.shape[1]).astype("float32")})

    def build_model(self, config, data):
        model = build_localizer(config, data.input_shape, data.num_classes)
        model.compile(optimizer=make_optimizer(config),
                      loss={"class": keras.losses.CategoricalCrossentropy(),
                            "box": keras.losses.MeanSquaredError()},
                      loss_weights={"class": 1.0, "box": config.box_weight},
                      metrics={"class": [keras.metrics.CategoricalAccuracy(name="accuracy")],
                               "box": [MeanBoxIoU(name="iou")]},
                      **compile_options(config))
        return model

    def export_endpoints(self, model, config, data):
        height, width, channels = data.input_shape
        names = tf.constant(list(data.class_names))

        def localize(images):
            images = signature_inputs.image_batch(images, signature="localize")
            shape = tf.shape(images)
            outputs = model(prepare_images(images, height, width, channels), training=False)
            index = tf.argmax(outputs["class"], axis=1, output_type=tf.int32)
            box = outputs["box"]
            return {"class_index": index, "class_name": tf.gather(names, index),
                    "probability": tf.reduce_max(outputs["class"], axis=1),
                    "probabilities": outputs["class"], "box": box,
                    "box_xyxy": curriculum_to_xyxy(box, tf.cast(shape[2], tf.float32),
                                                   tf.cast(shape[1], tf.float32))}

        count = batch_size_for_check(config.batch_size)
        pool = data.x_test if len(data.x_test) >= count else data.x_train
        return [Endpoint(name="localize", fn=localize,
                         input_signature=[tf.TensorSpec(None, tf.uint8, name="images")],
                         example=[np.asarray(pool[:count], np.uint8)])]

    def predict_files(self, loaded, paths):
        lines = []
        for path in paths:
            image = read_image(path)
            outputs = call_signature(loaded.localize, image, path)
            name = outputs["class_name"].numpy()[0].decode()
            probability = float(outputs["probability"].numpy()[0])
            bx, by, bh, bw = (float(v) for v in outputs["box"].numpy()[0])
            xyxy = outputs["box_xyxy"].numpy()[0]
            target = output_path(path)
            figures.save_png(figures.draw_boxes(image, xyxy[None], [f"{name} {probability:.2f}"]),
                             target)
            lines.append(f"{path}: {name} (p={probability:.3f}) box bx={bx:.3f} by={by:.3f} "
                         f"bh={bh:.3f} bw={bw:.3f} -> {target}")
        return lines

    def report(self, model, config, data, run):
        images, truth = (data.x_test, data.y_test) if len(data.x_test) else (data.x_dev, data.y_dev)
        outputs = model.predict(images, batch_size=config.batch_size, verbose=0)
        predicted = outputs["box"]
        true = to_curriculum(truth[:, :4], images.shape[1])
        metric = MeanBoxIoU()
        overlaps = []
        for index in range(len(images)):
            metric.reset_state()
            metric.update_state(true[index:index + 1], predicted[index:index + 1])
            overlaps.append(float(metric.result()))
        overlaps = np.asarray(overlaps)
        classes = outputs["class"].argmax(axis=1)
        accuracy = float(np.mean(classes == truth[:, 4].astype(int)))
        size = images.shape[1]
        pixels = np.stack([(predicted[:, 0] - predicted[:, 3] / 2), (predicted[:, 1] - predicted[:, 2] / 2),
                           (predicted[:, 0] + predicted[:, 3] / 2),
                           (predicted[:, 1] + predicted[:, 2] / 2)], axis=1) * size
        tiles = [figures.draw_boxes(images[i], pixels[i:i + 1],
                                    [f"{data.class_names[classes[i]]} IoU {overlaps[i]:.2f}"],
                                    truth[i:i + 1, :4], [data.class_names[int(truth[i, 4])]])
                 for i in range(min(8, len(images)))]
        figures.save_png(np.concatenate(tiles, axis=1), run.path / "localized.png")
        metrics = {"localization": {"accuracy": accuracy, "mean_iou": float(overlaps.mean()),
                                    "iou_at_least_0.5": float(np.mean(overlaps >= 0.5)),
                                    "iou_at_least_0.75": float(np.mean(overlaps >= 0.75))}}
        sections = [
            "## Localization (test set)\n",
            f"Class accuracy **{accuracy:.4f}**, mean IoU **{overlaps.mean():.4f}**; "
            f"{np.mean(overlaps >= 0.5):.1%} of boxes at IoU >= 0.5, "
            f"{np.mean(overlaps >= 0.75):.1%} at >= 0.75.\n",
            "![true boxes red, predicted green](localized.png)\n",
        ]
        return metrics, sections
