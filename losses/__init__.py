"""dlsuite's reusable custom losses.

Keras's own losses are spelled ``keras.losses.X``; ours are imported by name
(``from losses import kl_divergence``), so the two never shadow each other.
"""

from losses.discriminator_loss import DiscriminatorLoss, discriminator_loss
from losses.generator_loss import GeneratorLoss, generator_loss
from losses.kl_divergence import KLDivergence, kl_divergence
from losses.pairwise_distances import pairwise_distances
from losses.triplet_loss import TripletLoss, batch_triplet_loss, triplet_loss
