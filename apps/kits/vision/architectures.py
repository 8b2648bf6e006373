"""The CNN families as Functional Keras models, one builder per architecture.

Every builder is a pure function ``build_<arch>(input_shape, num_classes,
width=1.0, preprocessing=())`` that returns an uncompiled ``keras.Model``
mapping float images ``(batch, H, W, C)`` to class probabilities (softmax in
float32 under every dtype policy). ``preprocessing`` is a sequence of layers
applied to the inputs first (augmentation, rescaling), so the whole model
stays one flat Functional graph.

``width`` multiplies every convolution's channels and every hidden dense
layer's units (the classifier keeps ``num_classes``), so any architecture
trains on small images on a CPU. At ``width=1`` on 224x224x3 inputs with 1000
classes the parameter counts are those of ``keras.applications`` (VGG16/19,
ResNet50/101/152) and of the papers (LeNet-5 ~60k, AlexNet ~61M, GoogLeNet
~7M); ``tests/apps/test_cnn_models.py`` checks them.

The input size follows the data. Images whose shorter side is under
``SMALL_INPUT`` pixels (MNIST, Fashion-MNIST, CIFAR, 8x8 digits) would vanish
under ImageNet stems, which divide the resolution by 4 before the first
block, so for them:

- AlexNet and GoogLeNet keep their first convolution's kernel but use
  stride 1, and GoogLeNet drops its first max pooling;
- ResNet uses the CIFAR stem of He et al. section 4.2 (one 3x3 convolution,
  stride 1, no max pooling);
- LeNet-5 pads 28x28 inputs to 32x32, as LeCun et al. did with MNIST, and
  resizes any other size to 32x32;
- pooling that would shrink a feature map below one pixel keeps it instead
  (``"same"`` padding where ``"valid"`` would give zero size).
"""

import keras

from dlsuite.layers import (
    BottleneckBlock, FusedBatchNormalization, InceptionModule, LocalResponseNormalization,
    ResidualBlock,
)

ARCHITECTURES = (
    "lenet5",
    "alexnet",
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "inception",
)

# Inputs whose shorter side is below this get the small-image stems.
SMALL_INPUT = 64

# ResNet: block type and blocks per stage (He et al. table 1).
RESNET_STAGES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}

# VGG: convolutions per block (Simonyan and Zisserman table 1, D and E).
VGG_BLOCKS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_FILTERS = (64, 128, 256, 512, 512)

# GoogLeNet table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj);
# None marks a 3x3 stride-2 max pooling between groups.
GOOGLENET_MODULES = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    None,
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    None,
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)

# Batch-norm epsilon of keras.applications' ResNets.
BATCH_NORM_EPSILON = 1.001e-5
# Moving-statistics momentum of the ResNets' batch norms: 0.9, as in He et
# al.'s Torch code and PyTorch's default, not Keras's 0.99, whose moving
# statistics lag weights that still change fast, so that a short run
# evaluates near chance (README, "Every architecture").
BATCH_NORM_MOMENTUM = 0.9


def scaled(units, width):
    """``units * width`` rounded, at least 1."""
    return max(1, int(round(units * width)))


def is_small(input_shape):
    """Whether ``(H, W, C)`` gets the small-image stems."""
    return min(input_shape[0], input_shape[1]) < SMALL_INPUT


def _check_arguments(input_shape, num_classes, width):
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or any(
        not isinstance(size, int) or size < 1 for size in input_shape
    ):
        raise ValueError(
            "input_shape must be (height, width, channels) of positive ints. "
            f"Received: input_shape={input_shape}"
        )
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2. Received: num_classes={num_classes}")
    if not width > 0:
        raise ValueError(f"width must be > 0. Received: width={width}")
    return input_shape


def _inputs(input_shape, preprocessing):
    inputs = keras.Input(input_shape, name="images")
    x = inputs
    for layer in preprocessing:
        x = layer(x)
    return inputs, x


def _classifier(x, num_classes):
    """Logits in the compute dtype, softmax in float32."""
    x = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name="probabilities")(x)


def _max_pool(x, pool_size, strides, name, padding="valid"):
    """Max pooling that keeps a feature map too small for ``"valid"``."""
    height, width = x.shape[1], x.shape[2]
    if padding == "valid" and min(height, width) < pool_size:
        padding = "same"
    return keras.layers.MaxPooling2D(pool_size, strides=strides, padding=padding, name=name)(x)


# -- LeNet-5 ---------------------------------------------------------------


def build_lenet5(input_shape, num_classes, width=1.0, preprocessing=()):
    """LeNet-5 (LeCun et al. 1998): tanh and average pooling on 32x32 inputs.

    ``C1: 6@5x5 -> S2: avg 2x2 -> C3: 16@5x5 -> S4: avg 2x2 -> C5: 120@5x5
    -> F6: 84 -> output``. C3 connects to every S2 map (the paper's sparse
    connection table was for 1998 hardware) and the output is a softmax
    rather than Euclidean RBF units; 61,706 parameters at width 1 (paper:
    ~60,000). 28x28 inputs are zero-padded to 32x32, as the paper did with
    MNIST; other sizes are resized.
    """
    input_shape = _check_arguments(input_shape, num_classes, width)
    inputs, x = _inputs(input_shape, preprocessing)
    if input_shape[:2] == (28, 28):
        x = keras.layers.ZeroPadding2D(2, name="pad_to_32")(x)
    elif input_shape[:2] != (32, 32):
        x = keras.layers.Resizing(32, 32, name="resize_to_32")(x)
    x = keras.layers.Conv2D(scaled(6, width), 5, activation="tanh", name="c1")(x)
    x = keras.layers.AveragePooling2D(2, name="s2")(x)
    x = keras.layers.Conv2D(scaled(16, width), 5, activation="tanh", name="c3")(x)
    x = keras.layers.AveragePooling2D(2, name="s4")(x)
    x = keras.layers.Conv2D(scaled(120, width), 5, activation="tanh", name="c5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(scaled(84, width), activation="tanh", name="f6")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="lenet5")


# -- AlexNet ---------------------------------------------------------------


def build_alexnet(input_shape, num_classes, width=1.0, preprocessing=(), dropout_rate=0.5):
    """AlexNet (Krizhevsky et al. 2012) as one tower.

    ``conv 96@11x11/4 -> LRN -> maxpool 3/2 -> conv 256@5x5 -> LRN ->
    maxpool 3/2 -> conv 384@3x3 -> conv 384@3x3 -> conv 256@3x3 -> maxpool
    3/2 -> dropout -> fc 4096 -> dropout -> fc 4096 -> fc classes``, ReLU
    everywhere, overlapping (3x3, stride 2) max pooling, LRN with the paper's
    ``k=2, n=5, alpha=1e-4, beta=0.75``. The paper's two-GPU grouping is not
    kept, so at 224x224 it has 62.4M parameters (paper: ~60M). Small inputs
    use stride 1 in the first convolution.
    """
    input_shape = _check_arguments(input_shape, num_classes, width)
    inputs, x = _inputs(input_shape, preprocessing)
    first_stride = 1 if is_small(input_shape) else 4

    def local_response_normalization(name):
        return LocalResponseNormalization(
            depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, name=name
        )

    x = keras.layers.Conv2D(
        scaled(96, width), 11, strides=first_stride, padding="same", activation="relu",
        name="conv1",
    )(x)
    x = local_response_normalization("norm1")(x)
    x = _max_pool(x, 3, 2, "pool1")
    x = keras.layers.Conv2D(
        scaled(256, width), 5, padding="same", activation="relu", name="conv2"
    )(x)
    x = local_response_normalization("norm2")(x)
    x = _max_pool(x, 3, 2, "pool2")
    for index, filters in ((3, 384), (4, 384), (5, 256)):
        x = keras.layers.Conv2D(
            scaled(filters, width), 3, padding="same", activation="relu", name=f"conv{index}"
        )(x)
    x = _max_pool(x, 3, 2, "pool5")
    x = keras.layers.Flatten(name="flatten")(x)
    for index in (6, 7):
        x = keras.layers.Dropout(dropout_rate, name=f"dropout{index}")(x)
        x = keras.layers.Dense(scaled(4096, width), activation="relu", name=f"fc{index}")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="alexnet")


# -- VGG -------------------------------------------------------------------


def build_vgg(depth, input_shape, num_classes, width=1.0, preprocessing=(), dropout_rate=0.5):
    """VGG-16 or VGG-19 (Simonyan and Zisserman 2014, configurations D, E).

    Five blocks of 3x3 ``"same"`` ReLU convolutions (64, 128, 256, 512, 512
    filters), each followed by 2x2 max pooling, then two 4096-unit ReLU
    dense layers with dropout and the classifier. Layer names follow
    ``keras.applications`` (``block1_conv1`` ... ``fc1``, ``fc2``). The ReLU
    layers start He-normal (He et al. 2015, section 2.2), which trains the
    16/19-layer plain stack from scratch; the paper initialised its deep
    configurations from shallower trained ones instead.
    """
    if depth not in VGG_BLOCKS:
        raise ValueError(f"depth must be one of {sorted(VGG_BLOCKS)}. Received: depth={depth}")
    input_shape = _check_arguments(input_shape, num_classes, width)
    inputs, x = _inputs(input_shape, preprocessing)
    for block, (count, filters) in enumerate(zip(VGG_BLOCKS[depth], VGG_FILTERS), start=1):
        for index in range(1, count + 1):
            x = keras.layers.Conv2D(
                scaled(filters, width), 3, padding="same", activation="relu",
                kernel_initializer="he_normal", name=f"block{block}_conv{index}",
            )(x)
        x = _max_pool(x, 2, 2, f"block{block}_pool")
    x = keras.layers.Flatten(name="flatten")(x)
    for index in (1, 2):
        x = keras.layers.Dense(scaled(4096, width), activation="relu",
                               kernel_initializer="he_normal", name=f"fc{index}")(x)
        if dropout_rate:
            x = keras.layers.Dropout(dropout_rate, name=f"dropout{index}")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name=f"vgg{depth}")


def build_vgg16(input_shape, num_classes, width=1.0, preprocessing=(), dropout_rate=0.5):
    """VGG-16; see :func:`build_vgg`."""
    return build_vgg(16, input_shape, num_classes, width, preprocessing, dropout_rate)


def build_vgg19(input_shape, num_classes, width=1.0, preprocessing=(), dropout_rate=0.5):
    """VGG-19; see :func:`build_vgg`."""
    return build_vgg(19, input_shape, num_classes, width, preprocessing, dropout_rate)


# -- ResNet ----------------------------------------------------------------


def build_resnet(depth, input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-18/34/50/101/152 (He et al. 2015, table 1).

    Stem ``conv 64@7x7/2 -> BN -> ReLU -> maxpool 3/2``, four stages of
    :class:`dlsuite.layers.ResidualBlock` (18, 34) or :class:`dlsuite.layers.BottleneckBlock`
    (50, 101, 152) with 64, 128, 256, 512 filters (stride 2 in the first
    block of stages 2-4, projection shortcuts where shapes change), then
    global average pooling and the classifier. Batch norm, with momentum
    :data:`BATCH_NORM_MOMENTUM`, follows every convolution. Convolutions
    keep their bias, as in ``keras.applications``, so ResNet-50/101/152
    match its parameter counts exactly.
    """
    if depth not in RESNET_STAGES:
        raise ValueError(
            f"depth must be one of {sorted(RESNET_STAGES)}. Received: depth={depth}"
        )
    input_shape = _check_arguments(input_shape, num_classes, width)
    block_type, stages = RESNET_STAGES[depth]
    block_class = ResidualBlock if block_type == "basic" else BottleneckBlock
    inputs, x = _inputs(input_shape, preprocessing)
    if is_small(input_shape):
        x = keras.layers.Conv2D(
            scaled(64, width), 3, padding="same", name="stem_convolution"
        )(x)
    else:
        x = keras.layers.Conv2D(
            scaled(64, width), 7, strides=2, padding="same", name="stem_convolution"
        )(x)
    x = FusedBatchNormalization(
        momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name="stem_batch_norm"
    )(x)
    x = keras.layers.Activation("relu", name="stem_relu")(x)
    if not is_small(input_shape):
        x = _max_pool(x, 3, 2, "stem_pool", padding="same")
    for stage, (count, filters) in enumerate(zip(stages, (64, 128, 256, 512)), start=1):
        for index in range(1, count + 1):
            x = block_class(
                scaled(filters, width),
                strides=2 if stage > 1 and index == 1 else 1,
                use_bias=True,
                momentum=BATCH_NORM_MOMENTUM,
                name=f"stage{stage}_block{index}",
            )(x)
    x = keras.layers.GlobalAveragePooling2D(name="average_pool")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name=f"resnet{depth}")


def build_resnet18(input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-18; see :func:`build_resnet`."""
    return build_resnet(18, input_shape, num_classes, width, preprocessing)


def build_resnet34(input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-34; see :func:`build_resnet`."""
    return build_resnet(34, input_shape, num_classes, width, preprocessing)


def build_resnet50(input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-50; see :func:`build_resnet`."""
    return build_resnet(50, input_shape, num_classes, width, preprocessing)


def build_resnet101(input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-101; see :func:`build_resnet`."""
    return build_resnet(101, input_shape, num_classes, width, preprocessing)


def build_resnet152(input_shape, num_classes, width=1.0, preprocessing=()):
    """ResNet-152; see :func:`build_resnet`."""
    return build_resnet(152, input_shape, num_classes, width, preprocessing)


# -- GoogLeNet -------------------------------------------------------------


def build_inception(input_shape, num_classes, width=1.0, preprocessing=(), dropout_rate=0.4):
    """GoogLeNet (Szegedy et al. 2014, table 1), without the auxiliary heads.

    ``conv 64@7x7/2 -> maxpool 3/2 -> LRN -> conv 64@1x1 -> conv 192@3x3 ->
    LRN -> maxpool 3/2 -> inception 3a, 3b -> maxpool 3/2 -> 4a..4e ->
    maxpool 3/2 -> 5a, 5b -> global average pool -> dropout 0.4 -> fc``,
    ReLU after every convolution, stacked :class:`dlsuite.layers.InceptionModule`
    with 1x1 bottlenecks. The auxiliary classifiers were a training aid the
    paper found of little use, so they are left out; ~7.0M parameters at
    224x224 with 1000 classes (paper: ~6.8M). Small inputs use stride 1 in
    the first convolution and skip the first max pooling.
    """
    input_shape = _check_arguments(input_shape, num_classes, width)
    inputs, x = _inputs(input_shape, preprocessing)
    small = is_small(input_shape)

    def local_response_normalization(name):
        # Caffe's GoogLeNet: local_size 5, alpha 1e-4 (divided by the window
        # size there, as tf.nn does not), beta 0.75, k 1.
        return LocalResponseNormalization(
            depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75, name=name
        )

    x = keras.layers.Conv2D(
        scaled(64, width), 7, strides=1 if small else 2, padding="same", activation="relu",
        name="conv1",
    )(x)
    if not small:
        x = _max_pool(x, 3, 2, "pool1", padding="same")
    x = local_response_normalization("norm1")(x)
    x = keras.layers.Conv2D(scaled(64, width), 1, activation="relu", name="conv2_reduce")(x)
    x = keras.layers.Conv2D(
        scaled(192, width), 3, padding="same", activation="relu", name="conv2"
    )(x)
    x = local_response_normalization("norm2")(x)
    x = _max_pool(x, 3, 2, "pool2", padding="same")
    pool_index = 3
    for entry in GOOGLENET_MODULES:
        if entry is None:
            x = _max_pool(x, 3, 2, f"pool{pool_index}", padding="same")
            pool_index += 1
            continue
        name, widths = entry
        x = InceptionModule(
            *(scaled(filters, width) for filters in widths), name=f"inception_{name}"
        )(x)
    x = keras.layers.GlobalAveragePooling2D(name="average_pool")(x)
    x = keras.layers.Dropout(dropout_rate, name="dropout")(x)
    return keras.Model(inputs, _classifier(x, num_classes), name="inception")


BUILDERS = {
    "lenet5": build_lenet5,
    "alexnet": build_alexnet,
    "vgg16": build_vgg16,
    "vgg19": build_vgg19,
    "resnet18": build_resnet18,
    "resnet34": build_resnet34,
    "resnet50": build_resnet50,
    "resnet101": build_resnet101,
    "resnet152": build_resnet152,
    "inception": build_inception,
}


def build_model(arch, input_shape, num_classes, width=1.0, preprocessing=()):
    """Build ``arch`` (one of :data:`ARCHITECTURES`); see its builder."""
    if arch not in BUILDERS:
        raise ValueError(
            f"arch must be one of {', '.join(ARCHITECTURES)}. Received: arch={arch!r}"
        )
    return BUILDERS[arch](input_shape, num_classes, width=width, preprocessing=preprocessing)


# The layer whose input is each architecture's last feature map: what a
# backbone returns.
FEATURE_LAYERS = {
    "lenet5": "flatten",
    "alexnet": "flatten",
    "vgg16": "flatten",
    "vgg19": "flatten",
    "resnet18": "average_pool",
    "resnet34": "average_pool",
    "resnet50": "average_pool",
    "resnet101": "average_pool",
    "resnet152": "average_pool",
    "inception": "average_pool",
}


def build_backbone(arch, input_shape, width=1.0, preprocessing=(), name=None):
    """``arch`` without its classifier: images -> the last feature map.

    For other apps that put their own head on a ``cnn`` architecture (face
    embeddings, detection). The output is the input of the layer named in
    :data:`FEATURE_LAYERS`, always a map ``(batch, h, w, channels)``: the
    last stage for the ResNets and GoogLeNet, the last pooled map for VGG
    and AlexNet, C5's 1x1 maps for LeNet-5. The layers and weights
    are those of :func:`build_model`'s network; the classifier is not built
    into the returned model.
    """
    classifier = build_model(arch, input_shape, 2, width=width, preprocessing=preprocessing)
    features = classifier.get_layer(FEATURE_LAYERS[arch]).input
    return keras.Model(classifier.input, features, name=name or f"{arch}_backbone")
