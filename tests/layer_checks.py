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

A layer with several inputs (``layer([x, w])``) gives ``input_shape`` as a
list of shapes, and ``input_data`` (if any) as a list of arrays.

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
       every floating-point variable of the layer is float32 (a
       ``SeedGenerator``'s integer state is no weight).
    5. **Saving**: a ``.keras`` save and ``keras.saving.load_model`` in a
       temporary directory give identical outputs and an equal layer config.

    Args:
        layer_cls: The layer class (registered with
            ``keras.saving.register_keras_serializable``).
        init_kwargs: Dict of constructor arguments; keep the layer tiny.
        input_shape: Full input shape including the batch size, e.g.
            ``(2, 8, 8, 3)``; a list of them for a layer of several inputs.
        expected_output_shape: Full expected output shape, e.g.
            ``(2, 4, 4, 4)``.
        input_data: Optional float array (a list of them for several
            inputs) of ``input_shape`` to use instead of seeded
            standard-normal values (for layers with a restricted input
            domain).
        run_training_check: Set ``False`` for layers that cannot be trained
            through (none of ours so far).
        run_mixed_precision_check: Set ``False`` for layers that are float32
            only by design; say why at the call site.
        run_saving_check: Set ``False`` only with a reason at the call site.
    """
    expected_output_shape = tuple(expected_output_shape)
    if _is_several(input_shape):
        shapes = [tuple(shape) for shape in input_shape]
        arrays = input_data if input_data is not None else [None] * len(shapes)
        input_data = _Inputs(_input_array(data, shape, seed)
                             for seed, (data, shape) in enumerate(zip(arrays, shapes)))
    else:
        input_data = _input_array(input_data, tuple(input_shape), 0)

    _check_config_round_trip(layer_cls, init_kwargs)
    _check_shapes(layer_cls, init_kwargs, input_data, expected_output_shape)
    if run_training_check:
        _check_training(layer_cls, init_kwargs, input_data, expected_output_shape)
    if run_mixed_precision_check:
        for policy in MIXED_POLICIES:
            _check_mixed_precision(layer_cls, init_kwargs, input_data, policy)
    if run_saving_check:
        _check_saving(layer_cls, init_kwargs, input_data)


class _Inputs(list):
    """Several input arrays, with the list of their shapes as ``.shape``."""

    @property
    def shape(self):
        return [array.shape for array in self]


def _is_several(input_shape):
    return isinstance(input_shape, list) and all(isinstance(s, (list, tuple)) for s in input_shape)


def _input_array(data, shape, seed):
    if data is None:
        data = np.random.default_rng(seed).standard_normal(shape)
    data = np.asarray(data, dtype="float32")
    if data.shape != shape:
        raise ValueError(
            "input_data must have input_shape. Received: "
            f"input_data.shape={data.shape}, input_shape={shape}"
        )
    return data


def _symbolic(input_data, batch=True):
    """``keras.Input``(s) for ``input_data``, with its batch size or ``None``."""
    def one(array):
        return keras.Input(batch_shape=array.shape) if batch else keras.Input(array.shape[1:])

    if isinstance(input_data, _Inputs):
        return [one(array) for array in input_data]
    return one(input_data)


def _plain(input_data):
    """What a layer or model is called with: an array, or a plain list of them."""
    return list(input_data) if isinstance(input_data, _Inputs) else input_data


def _first(input_data):
    return input_data[0] if isinstance(input_data, _Inputs) else input_data


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
    computed = tuple(layer.compute_output_shape(input_data.shape))
    assert computed == expected_output_shape, (
        f"compute_output_shape: {computed} != expected {expected_output_shape}"
    )

    symbolic_output = layer_cls(**init_kwargs)(_symbolic(input_data))
    assert tuple(symbolic_output.shape) == expected_output_shape, (
        f"symbolic call: {tuple(symbolic_output.shape)} != expected "
        f"{expected_output_shape}"
    )
    unbatched_output = layer_cls(**init_kwargs)(_symbolic(input_data, batch=False))
    assert tuple(unbatched_output.shape) == (None, *expected_output_shape[1:]), (
        f"symbolic call with batch None: {tuple(unbatched_output.shape)}"
    )

    for training in (False, True):
        output = layer(_plain(input_data), training=training)
        assert tuple(output.shape) == expected_output_shape, (
            f"eager call (training={training}): {tuple(output.shape)} != "
            f"expected {expected_output_shape}"
        )
        assert keras.backend.standardize_dtype(output.dtype) == "float32", (
            f"eager call: float32 layer returned {output.dtype}"
        )
        assert_finite(output, f"eager call (training={training})")


def _check_training(layer_cls, init_kwargs, input_data, expected_output_shape):
    inputs = _symbolic(input_data, batch=False)
    layer = layer_cls(**init_kwargs)
    layer.build(input_data.shape)
    features = inputs
    watched = layer
    if not layer.trainable_weights:
        # A weightless layer: train a Dense in front of it (of its first
        # input) instead, which checks that gradients flow through the layer.
        first = _first(input_data)
        watched = keras.layers.Dense(first.shape[-1], name="trainable_probe")
        features = ([watched(inputs[0]), *inputs[1:]] if isinstance(inputs, list)
                    else watched(inputs))
    model = keras.Model(inputs, layer(features))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    targets = np.random.default_rng(1).standard_normal(expected_output_shape)
    before = [w.numpy() for w in watched.trainable_weights]
    history = model.fit(
        _plain(input_data),
        targets.astype("float32"),
        batch_size=_first(input_data).shape[0],
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
        output = layer(_plain(input_data), training=training)
        output_dtype = keras.backend.standardize_dtype(output.dtype)
        assert output_dtype == compute_dtype, (
            f"{policy}: output dtype {output_dtype} != compute dtype {compute_dtype}"
        )
        assert_finite(output, f"{policy} (training={training})")
    for variable in layer.variables:
        variable_dtype = keras.backend.standardize_dtype(variable.dtype)
        if "int" in variable_dtype:
            continue  # a SeedGenerator's state, not a weight
        assert variable_dtype == "float32", (
            f"{policy}: variable {variable.path} is {variable_dtype}, not float32"
        )


def _check_saving(layer_cls, init_kwargs, input_data):
    inputs = _symbolic(input_data, batch=False)
    layer = layer_cls(**init_kwargs)
    model = keras.Model(inputs, layer(inputs))
    expected = keras.ops.convert_to_numpy(model(_plain(input_data), training=False))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    actual = keras.ops.convert_to_numpy(loaded(_plain(input_data), training=False))
    np.testing.assert_allclose(
        actual, expected, rtol=0, atol=1e-6, err_msg=".keras round-trip: outputs differ"
    )
    loaded_layers = [l for l in loaded.layers if isinstance(l, layer_cls)]
    assert len(loaded_layers) == 1, ".keras round-trip: layer not restored as its class"
    assert loaded_layers[0].get_config() == layer.get_config(), (
        ".keras round-trip: layer config differs"
    )
