"""The generative kit: config, image data, noise and sample quality for the
image-generating apps (``gan``, ``vae``, StyleGAN)."""

from dlsuite.apps.kits.generative.config import (DATASETS, GenerativeConfig, load_image_data,
                                                 reference_images)
from dlsuite.apps.kits.generative.images import ImageGridLogger, image_grid, save_png
from dlsuite.apps.kits.generative.noise import replica_noise
from dlsuite.apps.kits.generative.quality import (GenerativeQuality, SampleQualityApp, measure,
                                                  reference_classifier)
