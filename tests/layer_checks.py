"""One reusable check that a custom layer follows DESIGN.md section 3.

In the spirit of keras's ``run_layer_test`` (keras/src/testing/test_case.py)
and keras-hub's ``run_precision_test`` / ``run_model_saving_test``, but small
enough to read in one sitting. Use it from any layer's test file::

    from tests.layer_checks import check_layer

    def test_layer_checks():
        check_layer(
            ResidualBlock,
            init_kwargs={"filters": 4, "strides": 2},
            input_shape=(2, 8, 8, 3),
            expected_output_shape=(2, 4, 4, 4),
        )

A layer that takes several inputs (``layer([features, rois])``) passes a
list of shapes as ``input_shape`` (and a list of arrays as ``input_data``);
the training probe then sits in front of the first input.

Keep the shapes tiny: every check builds a few small models and runs one
``fit`` step, a few seconds on one core.
"""

import os
import tempfile

import keras
import numpy as np

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def check_layer(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    *,
    input_data=None,
    run_training_check=True,
    run_mixed_precision_check=True,
    run_saving_check=True,
):
    """Run every layer check of DESIGN.md section 3 on ``layer_cls``.

    The checks, each failing with an ``AssertionError`` that says which:

    1. **Config round-trip**: ``layer_cls.from_config(layer.get_config())``
       has an equal config, and every key of ``init_kwargs`` is in it.
    2. **Shapes**: ``compute_output_shape``, a symbolic call on
       ``keras.Input`` and an eager call (both ``training=False`` and
       ``training=True``) give ``expected_output_shape``; eager outputs are
       float32, finite (no NaN or inf).
    3. **Training**: one ``fit`` step of a tiny Functional model
       (``Input -> layer -> mean-squared error`` to random targets) gives a
       finite loss and changes at least one trainable weight of the layer
       (of a Dense put in front of it, for a layer without weights).
    4. **Mixed precision**: under ``mixed_float16`` and ``mixed_bfloat16``
       (passed as ``dtype=``) the output is in the compute dtype, finite, and
       every variable of the layer is float32.
    5. **Saving**: a ``.keras`` save and ``keras.saving.load_model`` in a
       temporary directory give identical outputs and an equal layer config.

    Args:
        layer_cls: The layer class (registered with
            ``keras.saving.register_keras_serializable``).
        init_kwargs: Dict of constructor arguments; keep the layer tiny.
        input_shape: Full input shape including the batch size, e.g.
            ``(2, 8, 8, 3)``; a list of such shapes for a layer called on a
            list of inputs.
        expected_output_shape: Full expected output shape, e.g.
            ``(2, 4, 4, 4)``.
        input_data: Optional float array of ``input_shape`` (a list of them
            for several inputs) to use instead of seeded standard-normal
            values (for layers with a restricted input domain).
        run_training_check: Set ``False`` for layers that cannot be trained
            through (none of ours so far).
        run_mixed_precision_check: Set ``False`` for layers that are float32
            only by design; say why at the call site.
        run_saving_check: Set ``False`` only with a reason at the call site.
    """
    several = isinstance(input_shape, list)
    shapes = [tuple(shape) for shape in input_shape] if several else [tuple(input_shape)]
    expected_output_shape = tuple(expected_output_shape)
    if input_data is None:
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal(shape) for shape in shapes]
    else:
        arrays = list(input_data) if several else [input_data]
    arrays = [np.asarray(array, dtype="float32") for array in arrays]
    if [array.shape for array in arrays] != shapes:
        raise ValueError(
            "input_data must have input_shape. Received: "
            f"input_data shapes={[a.shape for a in arrays]}, input_shape={input_shape}"
        )
    input_data = _Inputs(arrays, several)

    _check_config_round_trip(layer_cls, init_kwargs)
    _check_shapes(layer_cls, init_kwargs, input_data, expected_output_shape)
    if run_training_check:
        _check_training(layer_cls, init_kwargs, input_data, expected_output_shape)
    if run_mixed_precision_check:
        for policy in MIXED_POLICIES:
            _check_mixed_precision(layer_cls, init_kwargs, input_data, policy)
    if run_saving_check:
        _check_saving(layer_cls, init_kwargs, input_data)


class _Inputs:
    """The layer's input arrays: one, or a list (``several``)."""

    def __init__(self, arrays, several):
        self.arrays, self.several = arrays, several

    @property
    def batch(self):
        return self.arrays[0].shape[0]

    def value(self):
        return list(self.arrays) if self.several else self.arrays[0]

    def symbolic(self, batch=True):
        made = [keras.Input(batch_shape=a.shape) if batch else keras.Input(shape=a.shape[1:])
                for a in self.arrays]
        return made if self.several else made[0]


def assert_finite(values, what):
    """Assert that ``values`` (any tensor) holds no NaN or infinity."""
    array = keras.ops.convert_to_numpy(keras.ops.cast(values, "float32"))
    assert np.all(np.isfinite(array)), f"{what}: output has NaN or inf values"


def _check_config_round_trip(layer_cls, init_kwargs):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    missing = [key for key in init_kwargs if key not in config]
    assert not missing, f"config round-trip: get_config() lacks {missing}"
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config, (
        "config round-trip: from_config(get_config()).get_config() differs:\n"
        f"{config}\n!=\n{revived.get_config()}"
    )


def _check_shapes(layer_cls, init_kwargs, input_data, expected_output_shape):
    layer = layer_cls(**init_kwargs)
    shapes = [a.shape for a in input_data.arrays]
    computed = tuple(layer.compute_output_shape(shapes if input_data.several else shapes[0]))
    assert computed == expected_output_shape, (
        f"compute_output_shape: {computed} != expected {expected_output_shape}"
    )

    symbolic_output = layer_cls(**init_kwargs)(input_data.symbolic())
    assert tuple(symbolic_output.shape) == expected_output_shape, (
        f"symbolic call: {tuple(symbolic_output.shape)} != expected "
        f"{expected_output_shape}"
    )
    unbatched_output = layer_cls(**init_kwargs)(input_data.symbolic(batch=False))
    assert tuple(unbatched_output.shape) == (None, *expected_output_shape[1:]), (
        f"symbolic call with batch None: {tuple(unbatched_output.shape)}"
    )

    for training in (False, True):
        output = layer(input_data.value(), training=training)
        assert tuple(output.shape) == expected_output_shape, (
            f"eager call (training={training}): {tuple(output.shape)} != "
            f"expected {expected_output_shape}"
        )
        assert keras.backend.standardize_dtype(output.dtype) == "float32", (
            f"eager call: float32 layer returned {output.dtype}"
        )
        assert_finite(output, f"eager call (training={training})")


def _check_training(layer_cls, init_kwargs, input_data, expected_output_shape):
    inputs = input_data.symbolic(batch=False)
    listed = inputs if input_data.several else [inputs]
    layer = layer_cls(**init_kwargs)
    shapes = [a.shape for a in input_data.arrays]
    layer.build(shapes if input_data.several else shapes[0])
    features = list(listed)
    watched = layer
    if not layer.trainable_weights:
        # A weightless layer: train a Dense in front of it (of its first
        # input) instead, which checks that gradients flow through the layer.
        watched = keras.layers.Dense(input_data.arrays[0].shape[-1], name="trainable_probe")
        features[0] = watched(features[0])
    model = keras.Model(inputs, layer(features if input_data.several else features[0]))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    targets = np.random.default_rng(1).standard_normal(expected_output_shape)
    before = [w.numpy() for w in watched.trainable_weights]
    history = model.fit(
        input_data.value(),
        targets.astype("float32"),
        batch_size=input_data.batch,
        epochs=1,
        verbose=0,
    )
    loss = history.history["loss"][-1]
    assert np.isfinite(loss), f"fit step: loss is {loss}"
    after = [w.numpy() for w in watched.trainable_weights]
    changed = any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert changed, f"fit step: no trainable weight of {watched.name} changed"


def _check_mixed_precision(layer_cls, init_kwargs, input_data, policy):
    layer = layer_cls(**init_kwargs, dtype=policy)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for training in (False, True):
        output = layer(input_data.value(), training=training)
        output_dtype = keras.backend.standardize_dtype(output.dtype)
        assert output_dtype == compute_dtype, (
            f"{policy}: output dtype {output_dtype} != compute dtype {compute_dtype}"
        )
        assert_finite(output, f"{policy} (training={training})")
    for variable in layer.variables:
        variable_dtype = keras.backend.standardize_dtype(variable.dtype)
        assert variable_dtype == "float32", (
            f"{policy}: variable {variable.path} is {variable_dtype}, not float32"
        )


def _check_saving(layer_cls, init_kwargs, input_data):
    inputs = input_data.symbolic(batch=False)
    layer = layer_cls(**init_kwargs)
    model = keras.Model(inputs, layer(inputs))
    expected = keras.ops.convert_to_numpy(model(input_data.value(), training=False))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    actual = keras.ops.convert_to_numpy(loaded(input_data.value(), training=False))
    np.testing.assert_allclose(
        actual, expected, rtol=0, atol=1e-6, err_msg=".keras round-trip: outputs differ"
    )
    loaded_layers = [l for l in loaded.layers if isinstance(l, layer_cls)]
    assert len(loaded_layers) == 1, ".keras round-trip: layer not restored as its class"
    assert loaded_layers[0].get_config() == layer.get_config(), (
        ".keras round-trip: layer config differs"
    )
