"""The CNN builders: structure, parameter counts, small inputs."""

import keras
import numpy as np
import pytest

from dlsuite.apps.kits.vision import architectures as models
from dlsuite.layers import BottleneckBlock, InceptionModule, LocalResponseNormalization, ResidualBlock

IMAGENET = (224, 224, 3)


def _count(arch, input_shape=IMAGENET, num_classes=1000):
    return models.build_model(arch, input_shape, num_classes).count_params()


@pytest.mark.parametrize(
    "arch, application",
    [
        ("vgg16", "VGG16"),
        ("resnet50", "ResNet50"),
        pytest.param("vgg19", "VGG19", marks=pytest.mark.slow),
        pytest.param("resnet101", "ResNet101", marks=pytest.mark.slow),
        pytest.param("resnet152", "ResNet152", marks=pytest.mark.slow),
    ],
)
def test_parameter_count_equals_keras_applications(arch, application):
    ours = _count(arch)
    keras.utils.clear_session()
    reference = getattr(keras.applications, application)(weights=None).count_params()
    assert ours == reference


@pytest.mark.parametrize(
    "arch, input_shape, num_classes, published",
    [
        ("lenet5", (32, 32, 1), 10, 60_000),
        ("alexnet", IMAGENET, 1000, 61_000_000),
        ("inception", IMAGENET, 1000, 6_800_000),
    ],
)
def test_parameter_count_within_5_percent_of_the_paper(arch, input_shape, num_classes,
                                                       published):
    assert abs(_count(arch, input_shape, num_classes) - published) / published < 0.05


def test_lenet5_pads_28_pixel_images_without_changing_its_weights():
    assert _count("lenet5", (28, 28, 1), 10) == _count("lenet5", (32, 32, 1), 10) == 61_706


def test_each_family_uses_its_layers():
    def layer_types(arch, input_shape=(32, 32, 3)):
        model = models.build_model(arch, input_shape, 10, width=0.125)
        return {type(layer) for layer in model.layers}

    assert ResidualBlock in layer_types("resnet18")
    assert BottleneckBlock in layer_types("resnet50")
    assert BottleneckBlock not in layer_types("resnet34")
    assert {InceptionModule, LocalResponseNormalization} <= layer_types("inception")
    assert LocalResponseNormalization in layer_types("alexnet")
    lenet = layer_types("lenet5")
    assert keras.layers.AveragePooling2D in lenet and keras.layers.MaxPooling2D not in lenet


def test_resnet_stage_counts_follow_the_paper():
    model = models.build_model("resnet34", (32, 32, 3), 10, width=0.125)
    names = [layer.name for layer in model.layers if isinstance(layer, ResidualBlock)]
    assert len(names) == 3 + 4 + 6 + 3
    assert names[-1] == "stage4_block3"


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_resnet_batch_norms_use_momentum_0_9_after_every_convolution(arch):
    # Keras's 0.99 left a short run's moving statistics so far behind that
    # ResNet-50 scored near chance in inference mode (models.py says more).
    model = models.build_model(arch, (32, 32, 3), 10, width=0.125)
    found = list(model._flatten_layers(include_self=False))
    batch_norms = [layer for layer in found if isinstance(layer, keras.layers.BatchNormalization)]
    convolutions = [layer for layer in found if isinstance(layer, keras.layers.Conv2D)]
    assert len(batch_norms) == len(convolutions) > 0
    assert {layer.momentum for layer in batch_norms} == {0.9}


def test_imagenet_stem_downsamples_by_four_and_small_stem_does_not():
    large = models.build_model("resnet18", (64, 64, 3), 10, width=0.125)
    small = models.build_model("resnet18", (32, 32, 3), 10, width=0.125)
    assert large.get_layer("stage1_block1").output.shape[1] == 16
    assert small.get_layer("stage1_block1").output.shape[1] == 32


@pytest.mark.parametrize("arch", models.ARCHITECTURES)
@pytest.mark.parametrize("input_shape", [(28, 28, 1), (8, 8, 1)])
def test_every_arch_runs_on_small_images(arch, input_shape):
    model = models.build_model(arch, input_shape, 3, width=0.0625)
    images = np.random.default_rng(0).uniform(0, 1, (2, *input_shape)).astype("float32")
    probabilities = np.asarray(model(images, training=False))
    assert probabilities.shape == (2, 3)
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_softmax_stays_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = models.build_model("resnet18", (16, 16, 3), 4, width=0.125)
    assert model.get_layer("logits").compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"


def test_width_scales_channels():
    narrow = models.build_model("vgg16", (32, 32, 3), 10, width=0.25)
    assert narrow.get_layer("block1_conv1").filters == 16
    assert narrow.get_layer("fc1").units == 1024
    assert narrow.get_layer("logits").units == 10


def test_preprocessing_layers_come_first():
    rescaling = keras.layers.Rescaling(1 / 255, name="rescale")
    model = models.build_model("lenet5", (32, 32, 1), 10, preprocessing=[rescaling])
    assert model.layers[1] is rescaling


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"arch": "resnet20"}, "Received: arch='resnet20'"),
        ({"input_shape": (28, 28)}, "Received: input_shape=(28, 28)"),
        ({"num_classes": 1}, "Received: num_classes=1"),
        ({"width": 0.0}, "Received: width=0.0"),
    ],
)
def test_invalid_arguments(kwargs, message):
    arguments = {"arch": "lenet5", "input_shape": (28, 28, 1), "num_classes": 10, "width": 1.0}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        models.build_model(**arguments)


@pytest.mark.parametrize("arch, feature_shape", [
    ("lenet5", (1, 1, 30)), ("vgg16", (1, 1, 128)), ("resnet18", (4, 4, 128)),
    ("resnet50", (4, 4, 512)), ("inception", (4, 4, 256))])
def test_backbone_is_the_classifier_without_its_head(arch, feature_shape):
    from dlsuite.apps.kits.vision.architectures import build_backbone

    backbone = build_backbone(arch, (28, 28, 1), width=0.25)
    assert tuple(backbone.output.shape[1:]) == feature_shape
    classifier = models.build_model(arch, (28, 28, 1), 7, width=0.25)
    kept = {layer.name for layer in backbone.layers}
    head = {layer.name for layer in classifier.layers} - kept
    # Only what follows the last feature map is left out.
    assert head <= {"flatten", "average_pool", "f6", "fc1", "fc2", "dropout", "dropout1",
                    "dropout2", "logits", "probabilities"}, head
    assert "logits" in head and "probabilities" in head
    assert backbone.count_params() == sum(
        layer.count_params() for layer in classifier.layers if layer.name in kept)
