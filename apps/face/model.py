"""The embedding network: a ``cnn`` backbone, pooling, a dense layer, unit norm.

FaceNet's architecture (Schroff et al. 2015, figure 2): a deep convolutional
network, then an embedding ``f(x)`` of ``embedding_dim`` values normalised to
``||f(x)|| = 1``, trained with the triplet loss. The backbone is any
``cnn`` architecture without its classifier (``dlsuite.apps.kits.vision.architectures.
build_backbone``); its last feature map is averaged over space, projected to
``embedding_dim`` and L2-normalised by Keras's ``UnitNormalization`` (in
float32 under every dtype policy, so distances and the loss are float32).
"""

import keras

from dlsuite.apps.kits.vision import augmentation_layers
from dlsuite.apps.kits.vision.architectures import build_backbone
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.losses import TripletLoss


def build_embedding_model(config, input_shape):
    """uint8-range images ``(batch, *input_shape)`` -> unit vectors ``(batch, embedding_dim)``."""
    preprocessing = augmentation_layers(config.augmentation(), input_shape[-1])
    preprocessing.append(keras.layers.Rescaling(1.0 / 255.0, dtype="float32", name="rescale"))
    backbone = build_backbone(config.backbone, input_shape, width=config.width,
                              preprocessing=preprocessing)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    x = keras.layers.Dense(config.embedding_dim, name="embedding")(x)
    outputs = keras.layers.UnitNormalization(dtype="float32", name="unit_norm")(x)
    return keras.Model(backbone.input, outputs, name=f"{config.backbone}_embedding")


def triplet_loss_for(config):
    """The run's loss: mining within each replica's P x K block."""
    return TripletLoss(margin=config.margin, mining=config.mining, distance=config.distance,
                       block_size=config.batch_size)


def compile_embedding_model(model, config):
    model.compile(optimizer=make_optimizer(config), loss=triplet_loss_for(config),
                  **compile_options(config))
    return model
