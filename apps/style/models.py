"""The two style-transfer models: image optimisation and a feed-forward stylizer.

Both subclass ``StyleTransferModel``, a ``MultiOptimizerModel`` (the
runtime's base for custom steps: global-batch reduction, loss scaling,
optimizers built up front) that holds

* a frozen ``dlsuite.layers.VGGFeatures`` trunk giving the content and style
  layers' activations of any RGB image in ``[0, 255]``;
* the style image's normalised Gram matrices per style layer, as
  non-trainable weights (saved with the model, never recomputed);
* a ``dlsuite.losses.StyleTransferLoss``: ``J = alpha J_content + beta J_style +
  tv_weight TV``, each term logged.

``ImageOptimizer`` (Gatys et al. 2016) trains the generated image itself: one
``(1, H, W, 3)`` float32 variable, kept in ``[0, 255]`` by a constraint,
started from the content image or from noise. ``fit`` data is one row per
step (the rows carry nothing; the app's ``one_example_per_step`` gives
each replica its own copy, so 1 and N replicas take the same steps).

``FastStylizer`` (Johnson, Alahi and Fei-Fei 2016) trains an image
transformation network on content photos with the same loss, so one
forward pass stylises any image.
"""

import keras
import tensorflow as tf

from dlsuite.apps.runtime.custom_step import MultiOptimizerModel
from dlsuite.layers import ReflectionPadding2D, VGGFeatures
from dlsuite.losses import StyleTransferLoss, gram_matrix, style_layer_cost


@keras.saving.register_keras_serializable(package="dlsuite")
class PixelRange(keras.constraints.Constraint):
    """Clip a variable to ``[0, 255]`` after every optimizer step."""

    def __call__(self, w):
        return keras.ops.clip(w, 0.0, 255.0)


def unique_layers(content_layers, style_layers):
    """Every layer the trunk must return, each once, content layers first."""
    found = []
    for name in list(content_layers) + list(style_layers):
        if name not in found:
            found.append(name)
    return found


def to_float_images(images):
    """uint8 or float images -> float32 RGB in ``[0, 255]``."""
    return tf.cast(images, tf.float32)


def to_uint8(images):
    return tf.cast(tf.clip_by_value(tf.round(tf.cast(images, tf.float32)), 0.0, 255.0), tf.uint8)


class StyleTransferModel(MultiOptimizerModel):
    """What both models share; see the module docstring."""

    logged_terms = {"model": ("content_cost", "style_cost", "total_variation")}

    def __init__(self, content_layers, style_layers, style_layer_weights=None, alpha=1.0,
                 beta=1.0, tv_weight=0.0, style_normalization="layer", architecture="vgg16",
                 **kwargs):
        super().__init__(**kwargs)
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        if not self.content_layers or not self.style_layers:
            raise ValueError("content_layers and style_layers must be non-empty. Received: "
                             f"content_layers={content_layers}, style_layers={style_layers}")
        self.architecture = architecture
        self.loss_fn = StyleTransferLoss(
            alpha=alpha, beta=beta, tv_weight=tv_weight, style_layer_weights=style_layer_weights,
            style_normalization=style_normalization)
        self.feature_layers = unique_layers(self.content_layers, self.style_layers)
        self.features = VGGFeatures(self.feature_layers, architecture=architecture,
                                    name="vgg_features")
        self.features.build((None, None, None, 3))
        shapes = dict(zip(self.feature_layers, self.features.compute_output_shape((1, 64, 64, 3))))
        widths = [shapes[name][-1] for name in self.style_layers]
        self.style_grams = [
            self.add_weight(shape=(1, width, width), initializer="zeros", trainable=False,
                            name=f"style_gram_{name}")
            for name, width in zip(self.style_layers, widths)]

    # -- pieces ---------------------------------------------------------------
    def activations(self, images):
        """``{"content": [...], "style": [...]}`` activations of float RGB images."""
        outputs = self.features(images)
        by_name = dict(zip(self.feature_layers, outputs))
        return {"content": [by_name[n] for n in self.content_layers],
                "style": [by_name[n] for n in self.style_layers]}

    def set_style(self, style_image):
        """Store the style image's (``(H, W, 3)`` uint8) Gram matrices."""
        style = self.activations(to_float_images(style_image[None]))["style"]
        for variable, features in zip(self.style_grams, style):
            variable.assign(gram_matrix(features, normalize=True))

    def cost_terms(self, generated, content_activations):
        """Per-example terms of float RGB ``generated`` images against the given
        content activations and the stored style."""
        activations = self.activations(generated)
        y_true = {"content": content_activations, "style": [g.value for g in self.style_grams]}
        y_pred = {**activations, "images": generated}
        return self.loss_fn.terms(y_true, y_pred)

    def measured_terms(self, generated, content_activations):
        """Like :meth:`cost_terms`, with every style layer normalised by its own
        sizes whatever ``style_normalization`` the model trains with: the
        figure runs with keras-io's normalisation are compared by."""
        measure = StyleTransferLoss.from_config(
            {**self.loss_fn.get_config(), "style_normalization": "layer"})
        activations = self.activations(generated)
        y_true = {"content": content_activations, "style": [g.value for g in self.style_grams]}
        return measure.terms(y_true, {**activations, "images": generated})

    def layer_style_costs(self, generated):
        """Each style layer's own cost of float RGB ``generated`` images,
        unweighted and normalised by the layer's own sizes, per example:
        ``{layer name: (batch,)}``. Weighted by the style layer weights they
        add up to the measured ``style_cost``; they show which layer a
        result misses."""
        activations = self.activations(generated)["style"]
        return {name: style_layer_cost(gram.value, features)
                for name, gram, features in zip(self.style_layers, self.style_grams, activations)}

    def reference_terms(self, content_images, style_image):
        """The two yardsticks of a result, per content image: the content
        image's own style cost (where optimisation starts), and the content
        cost of the style image itself (a result that kept none of the
        content). ``style_image`` ``(H, W, 3)`` has the content images' size."""
        content = to_float_images(content_images)
        activations = [tf.cast(a, tf.float32) for a in self.activations(content)["content"]]
        style = tf.repeat(to_float_images(style_image[None]), tf.shape(content)[0], axis=0)
        return {"style_cost_of_content": self.measured_terms(content, activations)["style_cost"],
                "content_cost_of_style": self.measured_terms(style, activations)["content_cost"]}

    def base_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "content_layers": self.content_layers,
            "style_layers": self.style_layers,
            "style_layer_weights": self.loss_fn.style_layer_weights,
            "alpha": self.loss_fn.alpha,
            "beta": self.loss_fn.beta,
            "tv_weight": self.loss_fn.tv_weight,
            "style_normalization": self.loss_fn.style_normalization,
            "architecture": self.architecture,
        }


@keras.saving.register_keras_serializable(package="dlsuite")
class ImageOptimizer(StyleTransferModel):
    """Neural style transfer by optimising the image (Gatys et al. 2016).

    Per step, with ``G`` the generated image variable::

        minimise  J(G) = alpha J_content(C, G) + beta J_style(S, G) + tv_weight TV(G)

    over ``G`` only (the trunk is frozen), then clip ``G`` to ``[0, 255]``.
    Logged: ``loss`` = J, ``content_cost``, ``style_cost``,
    ``total_variation``.

    Example::

        model = ImageOptimizer(64, 64, ["block4_conv2"], ["block1_conv1", "block2_conv1"])
        model.set_targets(content_uint8, style_uint8)
        model.compile(optimizer=keras.optimizers.Adam(5.0))
        model.build_optimizers()
        model.fit(np.zeros((100, 1), "float32"), batch_size=1)   # 100 steps
        result = model.result()                                   # uint8 (1, 64, 64, 3)
    """

    def __init__(self, image_height, image_width, content_layers, style_layers, **kwargs):
        super().__init__(content_layers, style_layers, **kwargs)
        for key, value in (("image_height", image_height), ("image_width", image_width)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive int. Received: {key}={value!r}")
        self.image_height, self.image_width = image_height, image_width
        self.generated = self.add_weight(
            shape=(1, image_height, image_width, 3), initializer="zeros", trainable=True,
            constraint=PixelRange(), name="generated_image")
        shapes = self.features.compute_output_shape((1, image_height, image_width, 3))
        self.content_targets = [
            self.add_weight(shape=shapes[self.feature_layers.index(name)], initializer="zeros",
                            trainable=False, name=f"content_{name}")
            for name in self.content_layers]
        self.built = True

    def set_targets(self, content_image, style_image, init="content", seed=0):
        """Store the content activations and style Grams; start ``G`` from the
        content image or from uniform noise in ``[0, 255]``."""
        content = to_float_images(content_image[None])
        if tuple(content.shape[1:3]) != (self.image_height, self.image_width):
            raise ValueError("content_image must be (image_height, image_width, 3). Received: "
                             f"{tuple(content_image.shape)}")
        for variable, features in zip(self.content_targets, self.activations(content)["content"]):
            variable.assign(tf.cast(features, tf.float32))
        self.set_style(style_image)
        if init == "content":
            self.generated.assign(content)
        elif init == "noise":
            self.generated.assign(tf.random.stateless_uniform(
                self.generated.shape, seed=[seed, 0], minval=0.0, maxval=255.0))
        else:
            raise ValueError(f"init must be 'content' or 'noise'. Received: init={init!r}")

    def current_terms(self):
        """The cost terms of the image as it is now (floats)."""
        terms = self.cost_terms(self.generated.value, [t.value for t in self.content_targets])
        return {name: float(value[0]) for name, value in terms.items()}

    def result(self):
        """The generated image, uint8 ``(1, H, W, 3)``."""
        return to_uint8(self.generated.value)

    def call(self, inputs=None, training=False):
        return tf.identity(self.generated.value)

    def role_variables(self, role):
        return [self.generated]

    def compute_terms(self, role, data, training, shared=None):
        rows = tf.shape(tf.nest.flatten(data)[0])[0]
        terms = self.cost_terms(self.generated.value, [t.value for t in self.content_targets])
        # The image's cost, once per row of this replica's batch: reduced
        # over the global batch, every replica's rows add up to J once.
        return {name: tf.repeat(value, rows) for name, value in terms.items()}

    def get_config(self):
        return {**self.base_config(), "image_height": self.image_height,
                "image_width": self.image_width}


def _conv_block(x, filters, kernel, strides, name, activation=True):
    x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, kernel, strides=strides, name=f"{name}_conv")(x)
    x = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=f"{name}_instance_norm")(x)
    if activation:
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def build_transformer(filters=32, residual_blocks=5, name="transformer"):
    """Johnson et al.'s image transformation network, float RGB ``[0, 255]`` in
    and out, any size divisible by 4 (the export pads to it).

    Two stride-2 convolutions down, ``residual_blocks`` residual blocks at
    1/4 resolution, two nearest-neighbour upsamplings each followed by a
    convolution up (Odena et al.'s fix for the checkerboard of transposed
    convolutions), instance normalisation after every convolution but the
    last (Ulyanov et al. 2016: ``GroupNormalization(groups=-1)``), reflection
    padding throughout, a sigmoid scaled to ``[0, 255]`` in float32 at the
    end::

        9x9 f -> 3x3/2 2f -> 3x3/2 4f -> R x [3x3 4f, 3x3 4f, + skip]
        -> up x2, 3x3 2f -> up x2, 3x3 f -> 9x9 3 -> 255 * sigmoid
    """
    if filters < 1 or residual_blocks < 0:
        raise ValueError(f"filters must be >= 1 and residual_blocks >= 0. Received: "
                         f"filters={filters}, residual_blocks={residual_blocks}")
    images = keras.Input((None, None, 3), name="images")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit")(images)
    x = _conv_block(x, filters, 9, 1, "in")
    x = _conv_block(x, 2 * filters, 3, 2, "down1")
    x = _conv_block(x, 4 * filters, 3, 2, "down2")
    for index in range(residual_blocks):
        skip = x
        x = _conv_block(x, 4 * filters, 3, 1, f"residual{index}_a")
        x = _conv_block(x, 4 * filters, 3, 1, f"residual{index}_b", activation=False)
        x = keras.layers.Add(name=f"residual{index}_add")([skip, x])
    for index, width in enumerate((2 * filters, filters), start=1):
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{index}")(x)
        x = _conv_block(x, width, 3, 1, f"up{index}")
    x = ReflectionPadding2D(4, name="out_pad")(x)
    x = keras.layers.Conv2D(3, 9, name="out_conv")(x)
    x = keras.layers.Activation("sigmoid", dtype="float32", name="out_sigmoid")(x)
    outputs = keras.layers.Rescaling(255.0, dtype="float32", name="to_pixels")(x)
    return keras.Model(images, outputs, name=name)


@keras.saving.register_keras_serializable(package="dlsuite")
class FastStylizer(StyleTransferModel):
    """A feed-forward stylizer (Johnson et al. 2016) trained with the same loss.

    Per step, for a batch of content photos ``C`` and the transformation
    network ``T``::

        minimise  mean_C [ alpha J_content(C, T(C)) + beta J_style(S, T(C))
                           + tv_weight TV(T(C)) ]

    over ``T``'s weights. ``fit`` data is a batch of uint8 (or float
    ``[0, 255]``) RGB photos; calling the model stylises images.

    Example::

        model = FastStylizer(build_transformer(8, 1), ["block2_conv2"], ["block1_conv1"])
        model.set_style(style_uint8)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.build_optimizers()
        model.fit(photo_crops_uint8, batch_size=4)
        stylized = model(photos)   # float32 RGB in [0, 255]
    """

    def __init__(self, transformer, content_layers, style_layers, **kwargs):
        super().__init__(content_layers, style_layers, **kwargs)
        self.transformer = transformer
        self.built = True

    def call(self, inputs, training=False):
        return self.transformer(to_float_images(inputs), training=training)

    def role_variables(self, role):
        return self.transformer.trainable_variables

    def photo_terms(self, photos, training=False):
        photos = to_float_images(photos)
        content = [tf.stop_gradient(tf.cast(a, tf.float32))
                   for a in self.activations(photos)["content"]]
        return self.cost_terms(self.transformer(photos, training=training), content)

    def compute_terms(self, role, data, training, shared=None):
        photos = tf.nest.flatten(data)[0]
        return self.photo_terms(photos, training=training)

    def get_config(self):
        return {**self.base_config(),
                "transformer": keras.saving.serialize_keras_object(self.transformer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["transformer"] = keras.saving.deserialize_keras_object(config["transformer"])
        return cls(**config)
