"""dlsuite's reusable custom losses.

Keras's own losses are spelled ``keras.losses.X``; ours are imported by name
(``from losses import kl_divergence``), so the two never shadow each other.
"""

from losses.content_cost import content_cost
from losses.discriminator_loss import DiscriminatorLoss, discriminator_loss
from losses.generator_loss import GeneratorLoss, generator_loss
from losses.gram_matrix import gram_matrix
from losses.kl_divergence import KLDivergence, kl_divergence
from losses.r1_penalty import R1Penalty, r1_penalty
from losses.pairwise_distances import pairwise_distances
from losses.triplet_loss import TripletLoss, batch_triplet_loss, triplet_loss
from losses.yolo_loss import YOLOLoss, yolo_loss
from losses.style_cost import style_cost, style_layer_cost
from losses.style_transfer_loss import StyleTransferLoss
from losses.total_variation import total_variation
