"""dlsuite's reusable custom losses.

Keras's own losses are spelled ``keras.losses.X``; ours are imported by name
(``from dlsuite.losses import kl_divergence``), so the two never shadow each other.
"""

if not __name__.startswith("dlsuite."):
    # The folder is installed as dlsuite.losses; importing it by its bare name
    # (from the repository root) would load every module twice, under two names.
    raise ImportError("import dlsuite.losses, not losses: the library's one namespace is dlsuite "
                      "(pip install -e . puts it on the path)")

from dlsuite.losses.content_cost import content_cost
from dlsuite.losses.discriminator_loss import DiscriminatorLoss, discriminator_loss
from dlsuite.losses.generator_loss import GeneratorLoss, generator_loss
from dlsuite.layers.gram_matrix import gram_matrix
from dlsuite.losses.kl_divergence import KLDivergence, kl_divergence
from dlsuite.losses.r1_penalty import R1Penalty, r1_penalty
from dlsuite.losses.pairwise_distances import pairwise_distances
from dlsuite.losses.triplet_loss import TripletLoss, batch_triplet_loss, triplet_loss
from dlsuite.losses.yolo_loss import YOLOLoss, yolo_loss
from dlsuite.losses.style_cost import style_cost, style_layer_cost
from dlsuite.losses.style_transfer_loss import StyleTransferLoss
from dlsuite.losses.total_variation import total_variation
