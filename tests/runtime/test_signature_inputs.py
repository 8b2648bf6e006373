"""The shared in-graph checks of exported signatures, through a real SavedModel."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import signature_inputs


class _Server(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec(None, tf.uint8)])
    def images(self, images):
        images = signature_inputs.image_batch(images, signature="classify", max_pixels=64 * 64)
        return tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2, 3])

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def noise(self, noise):
        noise = signature_inputs.float_batch(noise, signature="generate", name="noise",
                                             inner_shape=(4,), max_batch=16)
        return tf.reduce_sum(noise, axis=1)

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string), tf.TensorSpec(None, tf.float32)])
    def texts(self, texts, temperature):
        texts = signature_inputs.string_batch(texts, signature="translate", max_bytes=8)
        temperature = signature_inputs.scalar(temperature, signature="translate",
                                              name="temperature", low=0.0)
        return tf.strings.length(texts), temperature

    @tf.function(input_signature=[tf.TensorSpec(None, tf.int32)])
    def labels(self, labels):
        return signature_inputs.int_batch(labels, signature="generate", name="labels",
                                          low=0, high=10) + 1


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = tmp_path_factory.mktemp("server") / "export"
    tf.saved_model.save(_Server(), str(path))
    return tf.saved_model.load(str(path))


def test_good_inputs_pass_with_their_static_rank(loaded):
    out = loaded.images(tf.constant(np.full((2, 5, 7, 3), 10, np.uint8)))
    np.testing.assert_allclose(out.numpy(), [10.0, 10.0])
    np.testing.assert_allclose(loaded.noise(tf.ones((3, 4))).numpy(), [4.0, 4.0, 4.0])
    lengths, temperature = loaded.texts(tf.constant(["ab", ""]), tf.constant(0.5))
    assert lengths.numpy().tolist() == [2, 0] and float(temperature) == 0.5
    assert loaded.labels(tf.constant([0, 9])).numpy().tolist() == [1, 10]


@pytest.mark.parametrize("call, message", [
    (lambda m: m.images(tf.zeros((5, 7, 3), tf.uint8)), "add a batch axis"),
    (lambda m: m.images(tf.zeros((0, 5, 7, 3), tf.uint8)), "empty batch"),
    (lambda m: m.images(tf.zeros((1, 0, 7, 3), tf.uint8)), "empty image"),
    (lambda m: m.images(tf.zeros((1, 5, 7, 4), tf.uint8)), "received channels"),
    (lambda m: m.images(tf.zeros((1, 65, 64, 1), tf.uint8)), "height x width <= 4096"),
    (lambda m: m.noise(tf.ones((3, 5))), "float32 \\(batch, 4\\)"),
    (lambda m: m.noise(tf.ones((3,))), "another rank"),
    (lambda m: m.noise(tf.constant([[0.0, np.nan, 0.0, 0.0]])), "NaN or inf"),
    (lambda m: m.noise(tf.constant([[0.0, np.inf, 0.0, 0.0]])), "NaN or inf"),
    (lambda m: m.noise(tf.ones((0, 4))), "empty batch"),
    (lambda m: m.noise(tf.ones((17, 4))), "batch <= 16"),
    (lambda m: m.texts(tf.constant(["far too long"]), tf.constant(1.0)), "<= 8 bytes"),
    (lambda m: m.texts(tf.constant("a"), tf.constant(1.0)), "wrap one string"),
    (lambda m: m.texts(tf.constant(["a"]), tf.constant(-1.0)), "temperature as a scalar in"),
    (lambda m: m.texts(tf.constant(["a"]), tf.constant(np.nan)), "NaN or inf"),
    (lambda m: m.labels(tf.constant([3, 10])), "value >= 10"),
])
def test_bad_inputs_raise_a_message_naming_what_is_expected(loaded, call, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message) as caught:
        call(loaded)
    line = signature_inputs.explain(caught.value)
    assert "\n" not in line and "{{" not in line and "node" not in line
    assert " expects " in line


def test_wrong_dtype_is_refused_by_the_signature(loaded):
    with pytest.raises((ValueError, TypeError)):
        loaded.images(tf.zeros((1, 4, 4, 1), tf.float32))


class _Declared(tf.Module):
    """Specs with declared shapes, called the way a server calls signatures."""

    @tf.function(input_signature=[tf.TensorSpec((), tf.int32, name="n"),
                                  tf.TensorSpec((None, 4), tf.float32, name="noise")])
    def sample(self, n, noise):
        n = signature_inputs.scalar(n, signature="sample", name="n", low=1)
        noise = signature_inputs.float_batch(noise, signature="sample", name="noise",
                                             inner_shape=(4,))
        return tf.reduce_sum(noise) * tf.cast(n, tf.float32)


def test_a_signature_handed_a_shape_its_spec_does_not_declare_still_refuses_it(tmp_path):
    """Signature functions accept any shape at the call, and the graph
    optimiser folds shape checks against the declared one: the checks must
    still hold (this failed before tf.ensure_shape held inputs to their spec)."""
    module = _Declared()
    path = tmp_path / "declared"
    tf.saved_model.save(module, str(path), signatures={"sample": module.sample.get_concrete_function()})
    signature = tf.saved_model.load(str(path)).signatures["sample"]
    assert float(signature(n=tf.constant(2), noise=tf.ones((3, 4)))["output_0"]) == 24.0
    for n, noise in ((tf.constant([2, 2]), tf.ones((3, 4))), (tf.constant(2), tf.ones((3, 5))),
                     (tf.constant(2), tf.ones((3, 4, 1)))):
        with pytest.raises(tf.errors.InvalidArgumentError, match="expected shape") as caught:
            signature(n=n, noise=noise)
        assert "is not compatible with expected shape" in signature_inputs.explain(caught.value)
