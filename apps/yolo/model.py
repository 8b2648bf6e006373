"""The YOLO network: a ``cnn`` backbone cut at a stride, a small neck and a
1x1 prediction convolution (``B * (5 + C)`` channels per cell)."""

import keras
import numpy as np

from dlsuite.apps.kits.detection.backbone import feature_extractor

# The objectness logit every slot starts at: sigmoid(-4) = 0.018, about the
# share of slots that hold an object, so the first steps are not spent
# pushing hundreds of background slots down (the prior of Lin et al.'s
# RetinaNet, section 4.1).
OBJECTNESS_PRIOR_LOGIT = -4.0


def build_detector(config, input_shape, num_classes, anchors):
    """images (0..255) -> raw ``(batch, rows, cols, B * (5 + C))`` in float32."""
    features = feature_extractor(config.arch, input_shape, config.width, config.stride)
    x = features.output
    for index in range(2):
        x = keras.layers.Conv2D(config.neck_filters, 3, padding="same", use_bias=False,
                                name=f"neck_conv{index + 1}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"neck_batch_norm{index + 1}")(x)
        x = keras.layers.LeakyReLU(0.1, name=f"neck_leaky_relu{index + 1}")(x)
    per_anchor = 5 + num_classes
    prediction = keras.layers.Conv2D(len(anchors) * per_anchor, 1, name="prediction")
    x = prediction(x)
    outputs = keras.layers.Activation("linear", dtype="float32", name="raw_predictions")(x)
    model = keras.Model(features.input, outputs, name="yolo")
    kernel, bias = prediction.get_weights()
    bias[4::per_anchor] = OBJECTNESS_PRIOR_LOGIT
    prediction.set_weights([kernel, bias])
    return model


def box_sizes(boxes):
    """Widths and heights ``(K, 2)`` of the real rows of padded ``(N, M, 5)`` boxes."""
    rows = np.asarray(boxes, np.float32).reshape(-1, 5)
    rows = rows[rows[:, 4] >= 0]
    sizes = np.stack([rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]], axis=1)
    return sizes[(sizes > 0).all(axis=1)]
