"""The vision kit: what the image apps share.

Backbones from the cnn app's architectures (:mod:`.architectures`), reading
and preparing images for models and exports (:mod:`.images`), and Keras's
random augmentation layers built from a config (:mod:`.augmentation`).
"""

from dlsuite.apps.kits.vision.architectures import ARCHITECTURES, build_backbone, build_model
from dlsuite.apps.kits.vision.augmentation import augmentation_layers
from dlsuite.apps.kits.vision.images import prepare_images, read_image
