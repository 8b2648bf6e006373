"""The R-CNN family as one Keras model with three variants.

- ``rcnn`` (Girshick et al. 2014): each region, grown by
  ``context_padding`` of its size on every side, is warped to
  ``warp_size x warp_size`` pixels (bilinear, :class:`dlsuite.layers.ROIAlign` on
  the image itself) and classified by a whole ``cnn`` network of its own
  (``region_net``): ``C + 1`` classes (background first) and per-class box
  deltas. The CNN runs once per region.
- ``fast`` (Girshick 2015): one backbone pass per image (a ``cnn``
  architecture cut at ``stride``), :class:`dlsuite.layers.ROIPooling` of each
  region on the shared map, and ``roi_head`` (two fully connected layers,
  then the class and box layers) per region.
- ``faster`` (Ren et al. 2015): the same, with the regions proposed by a
  region proposal network (:class:`dlsuite.layers.RPNHead` on anchors of the same
  map, proposals by NMS) and pooled by :class:`dlsuite.layers.ROIAlign`; trained end
  to end (approximate joint training: no gradient through the proposals'
  coordinates).

Training, :meth:`TwoStageDetector.compute_terms`: regions are sampled from
the proposals and the true boxes (``dlsuite.apps.rcnn.targets``), and the loss is
the multi-task loss of Fast R-CNN (plus the RPN's for ``faster``), per
image. Inference, :meth:`TwoStageDetector.raw_detections`: refined boxes
per region and class with their class probabilities, before per-class NMS.
"""

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.vision.architectures import build_backbone
from dlsuite.apps.kits.detection.backbone import feature_extractor
from dlsuite.apps.rcnn import targets
from dlsuite.apps.runtime.custom_step import MultiOptimizerModel
from dlsuite.layers import ROIAlign, ROIPooling, RPNHead

VARIANTS = ("rcnn", "fast", "faster")


def _heads(x, num_classes, prefix):
    logits = keras.layers.Dense(num_classes + 1, dtype="float32", name=f"{prefix}_class_logits",
                                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))(x)
    deltas = keras.layers.Dense(4 * num_classes, dtype="float32", name=f"{prefix}_box_deltas",
                                kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))(x)
    return logits, deltas


def build_region_net(arch, warp_size, channels, width, num_classes):
    """R-CNN's per-region CNN: a warped region (0..255) -> class logits and
    per-class box deltas (the whole ``cnn`` backbone, global average pooling)."""
    backbone = build_backbone(arch, (warp_size, warp_size, channels), width=width,
                              preprocessing=[keras.layers.Rescaling(1.0 / 255.0, dtype="float32",
                                                                    name="rescale")],
                              name="region_backbone")
    pooled = keras.layers.GlobalAveragePooling2D(name="region_pool")(backbone.output)
    logits, deltas = _heads(pooled, num_classes, "region")
    return keras.Model(backbone.input, [logits, deltas], name="region_net")


def build_roi_head(pooled_size, channels, units, num_classes):
    """Fast R-CNN's head: pooled region features -> two fully connected
    layers -> class logits and per-class box deltas."""
    inputs = keras.Input((pooled_size, pooled_size, channels), name="pooled_features")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for index in (1, 2):
        x = keras.layers.Dense(units, activation="relu", name=f"fc{index}")(x)
    logits, deltas = _heads(x, num_classes, "roi")
    return keras.Model(inputs, [logits, deltas], name="roi_head")


@keras.saving.register_keras_serializable(package="dlsuite")
class TwoStageDetector(MultiOptimizerModel):
    """R-CNN, Fast R-CNN or Faster R-CNN (``settings["variant"]``).

    ``settings`` is a dict of plain values (the app's config fields the
    model needs: image size, stride, sampling, anchors, proposal counts,
    seed); the networks are Functional models (``region_net`` for
    ``rcnn``; ``backbone`` and ``roi_head`` for the others) and, for
    ``faster``, an :class:`dlsuite.layers.RPNHead`. Data for ``fit``: ``(images,
    truths)`` for ``faster``, ``({"images", "proposals"}, truths)``
    otherwise; truths are padded ``(M, 5)`` rows ``x1, y1, x2, y2, class``.
    """

    roles = ("model",)
    logged_terms = {"model": ("class_loss", "box_loss", "region_accuracy", "rpn_objectness_loss",
                              "rpn_box_loss")}

    def __init__(self, settings, num_classes, region_net=None, backbone=None, roi_head=None,
                 **kwargs):
        super().__init__(**kwargs)
        if settings.get("variant") not in VARIANTS:
            raise ValueError(f"settings['variant'] must be one of {VARIANTS}. "
                             f"Received: variant={settings.get('variant')!r}")
        self.settings = dict(settings)
        self.num_classes = int(num_classes)
        self.variant = self.settings["variant"]
        self.region_net, self.backbone, self.roi_head = region_net, backbone, roi_head
        size = self.settings["image_size"]
        if self.variant == "rcnn":
            self.warp = ROIAlign(self.settings["warp_size"], spatial_scale=1.0, sampling_ratio=2,
                                 name="warp")
        else:
            stride = self.settings["stride"]
            pooling = ROIPooling if self.variant == "fast" else ROIAlign
            self.pool = pooling(self.settings["pooled_size"], spatial_scale=1.0 / stride,
                                name="roi_pool")
        if self.variant == "faster":
            self.anchor_boxes = targets.anchors(size, self.settings["stride"],
                                                self.settings["anchor_sizes"],
                                                self.settings["anchor_ratios"])
            per_location = len(self.settings["anchor_sizes"]) * len(self.settings["anchor_ratios"])
            self.rpn = RPNHead(per_location, self.settings["rpn_filters"], name="rpn")
            self.rpn.build(tuple(backbone.output.shape))
        if self.variant != "faster":
            # Only faster logs the RPN's terms.
            self.logged_terms = {"model": ("class_loss", "box_loss", "region_accuracy")}
        self.built = True

    # -- the networks ---------------------------------------------------------
    def features(self, images, training=False):
        return self.backbone(tf.cast(images, tf.float32), training=training)

    def classify(self, images, rois, training=False, features=None):
        """Class logits ``(B, R, C + 1)`` and deltas ``(B, R, C, 4)`` of the
        regions ``rois (B, R, 4)`` of ``images``."""
        batch, count = tf.shape(rois)[0], tf.shape(rois)[1]
        if self.variant == "rcnn":
            grow = self.settings["context_padding"] * tf.concat(
                [rois[..., :2] - rois[..., 2:], rois[..., 2:] - rois[..., :2]], axis=-1)
            crops = self.warp([tf.cast(images, tf.float32), rois + grow])
            size, channels = self.settings["warp_size"], images.shape[-1]
            logits, deltas = self.region_net(tf.reshape(crops, [-1, size, size, channels]),
                                             training=training)
        else:
            if features is None:
                features = self.features(images, training)
            pooled = self.pool([features, rois])
            size, channels = self.settings["pooled_size"], features.shape[-1]
            logits, deltas = self.roi_head(tf.reshape(pooled, [-1, size, size, channels]),
                                           training=training)
        logits = tf.reshape(logits, [batch, count, self.num_classes + 1])
        deltas = tf.reshape(deltas, [batch, count, self.num_classes, 4])
        return logits, deltas

    def rpn_outputs(self, features):
        raw = tf.cast(self.rpn(features), tf.float32)
        return raw[..., 0], raw[..., 1:]

    def proposals(self, images, count, features=None):
        """``faster``: the RPN's top ``count`` proposals (boxes, objectness, mask)."""
        if features is None:
            features = self.features(images)
        logits, deltas = self.rpn_outputs(features)
        return targets.propose(self.anchor_boxes, logits, deltas, self.settings, count)

    def raw_detections(self, images, proposals=None):
        """Float images ``(B, H, W, C)`` at the input size (and, for ``rcnn``
        and ``fast``, proposals ``(B, P, 4)`` padded with zero rows) ->
        boxes ``(B, R, C, 4)`` per region and class, class probabilities
        ``(B, R, C)``."""
        features = None
        if self.variant == "faster":
            features = self.features(images)
            proposals, _, valid = self.proposals(images, self.settings["test_proposals"],
                                                 features)
        else:
            proposals = tf.cast(proposals, tf.float32)
            valid = targets.proposal_mask(proposals)
        logits, deltas = self.classify(images, proposals, features=features)
        return targets.detections(proposals, valid, logits, deltas, self.settings["image_size"])

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            return self.raw_detections(inputs["images"], inputs.get("proposals"))
        return self.raw_detections(inputs)

    # -- MultiOptimizerModel ----------------------------------------------------
    def role_variables(self, role):
        return self.trainable_variables

    def compute_terms(self, role, data, training, shared=None):
        x, truths = data[0], data[1]
        step = self.role_optimizers[role].iterations
        terms = {}
        features = None
        if self.variant == "faster":
            images = x
            features = self.features(images, training)
            logits, deltas = self.rpn_outputs(features)
            labels, box_targets = targets.rpn_targets(self.anchor_boxes, truths, self.settings,
                                                      step)
            objectness, rpn_box = targets.rpn_losses(logits, deltas, labels, box_targets)
            terms.update(rpn_objectness_loss=objectness, rpn_box_loss=rpn_box)
            candidates, _, valid = targets.propose(self.anchor_boxes, logits, deltas,
                                                   self.settings,
                                                   self.settings["train_proposals"])
        else:
            images, candidates = x["images"], tf.cast(x["proposals"], tf.float32)
            valid = targets.proposal_mask(candidates)
        rois, labels, box_targets, weights = targets.sample_rois(candidates, valid, truths,
                                                                 self.settings, step)
        class_logits, box_deltas = self.classify(images, rois, training, features)
        class_loss, box_loss, accuracy = targets.head_losses(class_logits, box_deltas, labels,
                                                             box_targets, weights)
        loss = class_loss + self.settings["box_weight"] * box_loss
        if self.variant == "faster":
            loss = loss + terms["rpn_objectness_loss"] + terms["rpn_box_loss"]
        terms.update(loss=loss, class_loss=class_loss, box_loss=box_loss,
                     region_accuracy=accuracy)
        return terms

    # -- saving -----------------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "settings": {key: list(value) if isinstance(value, tuple) else value
                               for key, value in self.settings.items()},
                  "num_classes": self.num_classes}
        for key in ("region_net", "backbone", "roi_head"):
            network = getattr(self, key)
            config[key] = None if network is None else keras.saving.serialize_keras_object(network)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("region_net", "backbone", "roi_head"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def build_detector(settings, config, input_shape, num_classes):
    """The uncompiled :class:`TwoStageDetector` of ``settings["variant"]``."""
    if settings["variant"] == "rcnn":
        return TwoStageDetector(settings, num_classes, region_net=build_region_net(
            config.arch, config.warp_size, input_shape[-1], config.width, num_classes))
    backbone = feature_extractor(config.arch, input_shape, config.width, config.stride)
    head = build_roi_head(config.pooled_size, backbone.output.shape[-1], config.head_units,
                          num_classes)
    return TwoStageDetector(settings, num_classes, backbone=backbone, roi_head=head)


def anchor_count(settings):
    return len(settings["anchor_sizes"]) * len(settings["anchor_ratios"])


def anchors_of(settings):
    """The numpy anchors of a ``faster`` configuration."""
    return np.asarray(targets.anchors(settings["image_size"], settings["stride"],
                                      settings["anchor_sizes"], settings["anchor_ratios"]))
