"""dlsuite's reusable custom Keras layers.

Keras's own layers are spelled ``keras.layers.X``; ours are imported by name
(``from layers import ResidualBlock``), so the two never shadow each other.
"""

from layers.anchor_kmeans import anchor_kmeans, mean_best_iou
from layers.bottleneck_block import BottleneckBlock
from layers.fused_batch_normalization import FusedBatchNormalization
from layers.gram_matrix import GramMatrix
from layers.inception_module import InceptionModule
from layers.local_response_normalization import LocalResponseNormalization
from layers.reflection_padding2d import ReflectionPadding2D
from layers.nan_masking import NaNMasking
from layers.residual_block import ResidualBlock
from layers.sampling import Sampling
from layers.small_map_conv2d import SmallMapConv2D
from layers.yolo_head import YOLOHead
from layers.yolo_target_encoder import YOLOTargetEncoder
from layers.vgg_features import VGGFeatures
