"""dlsuite's reusable custom Keras layers.

Keras's own layers are spelled ``keras.layers.X``; ours are imported by name
(``from dlsuite.layers import ResidualBlock``), so the two never shadow each other.
"""

if not __name__.startswith("dlsuite."):
    # The folder is installed as dlsuite.layers; importing it by its bare name
    # (from the repository root) would load every module twice, under two names.
    raise ImportError("import dlsuite.layers, not layers: the library's one namespace is dlsuite "
                      "(pip install -e . puts it on the path)")

from dlsuite.layers.anchor_kmeans import anchor_kmeans, mean_best_iou
from dlsuite.layers.bottleneck_block import BottleneckBlock
from dlsuite.layers.fused_batch_normalization import FusedBatchNormalization
from dlsuite.layers.gram_matrix import GramMatrix
from dlsuite.layers.inception_module import InceptionModule
from dlsuite.layers.learned_constant import LearnedConstant
from dlsuite.layers.local_response_normalization import LocalResponseNormalization
from dlsuite.layers.mapping_network import MappingNetwork
from dlsuite.layers.minibatch_standard_deviation import MinibatchStandardDeviation
from dlsuite.layers.modulated_conv2d import ModulatedConv2D
from dlsuite.layers.noise_injection import NoiseInjection
from dlsuite.layers.reflection_padding2d import ReflectionPadding2D
from dlsuite.layers.nan_masking import NaNMasking
from dlsuite.layers.residual_block import ResidualBlock
from dlsuite.layers.roi_align import ROIAlign
from dlsuite.layers.roi_pooling import ROIPooling
from dlsuite.layers.rpn_head import RPNHead
from dlsuite.layers.sampling import Sampling
from dlsuite.layers.small_map_conv2d import SmallMapConv2D
from dlsuite.layers.yolo_head import YOLOHead
from dlsuite.layers.yolo_target_encoder import YOLOTargetEncoder
from dlsuite.layers.vgg_features import VGGFeatures
