import keras
import numpy as np
import pytest

from dlsuite.layers import VGGFeatures
from dlsuite.layers.vgg_features import layer_names
from tests.layer_checks import check_layer


def test_layer_checks():
    # Pixels in [0, 255], as the layer expects.
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 12, 12, 3))
    check_layer(VGGFeatures, init_kwargs={"output_layers": "block1_conv2"},
                input_shape=(2, 12, 12, 3), expected_output_shape=(2, 12, 12, 64),
                input_data=pixels)


def test_matches_keras_applications_vgg16_with_its_preprocessing():
    """Same weights, same outputs as keras.applications' VGG16 fed
    vgg16.preprocess_input (RGB -> BGR minus the mean pixel)."""
    keras.utils.set_random_seed(0)
    reference = keras.applications.VGG16(weights=None, include_top=False,
                                         input_shape=(None, None, 3))
    names = ["block1_conv1", "block2_pool", "block3_conv1"]
    features = VGGFeatures(names)
    features.build((None, None, None, 3))
    for layer in features.conv_layers:
        layer.set_weights(reference.get_layer(layer.name).get_weights())
    probe = keras.Model(reference.input, [reference.get_layer(n).output for n in names])
    images = np.random.default_rng(1).uniform(0, 255, (2, 20, 20, 3)).astype("float32")
    expected = probe(keras.applications.vgg16.preprocess_input(images.copy()))
    for ours, theirs in zip(features(images), expected):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(ours),
                                   keras.ops.convert_to_numpy(theirs), rtol=1e-4, atol=1e-3)


def test_list_outputs_shapes_and_the_trunk_stops_at_the_deepest_layer():
    features = VGGFeatures(["block2_conv1", "block1_conv1"], architecture="vgg19")
    outputs = features(np.zeros((1, 17, 9, 3), "float32"))
    assert [tuple(o.shape) for o in outputs] == [(1, 8, 4, 128), (1, 17, 9, 64)]
    assert features.compute_output_shape((1, 17, 9, 3)) == [(1, 8, 4, 128), (1, 17, 9, 64)]
    assert [layer.name for layer in features.conv_layers] == [
        "block1_conv1", "block1_conv2", "block2_conv1"]
    assert features.trainable_weights == [] and len(features.weights) == 6
    assert len(layer_names("vgg19")) == 16 + 5


@pytest.mark.parametrize("kwargs, message", [
    ({"output_layers": "block6_conv1"}, "output_layers must be a vgg16 layer name"),
    ({"output_layers": []}, "output_layers must be"),
    ({"output_layers": "block3_conv4"}, "block3_conv3"),
    ({"output_layers": "block1_conv1", "architecture": "resnet"}, "architecture must be one of"),
])
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VGGFeatures(**kwargs)


def test_rejects_non_rgb_input():
    with pytest.raises(ValueError, match="RGB images"):
        VGGFeatures("block1_conv1")(np.zeros((1, 8, 8, 1), "float32"))
