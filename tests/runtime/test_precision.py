"""Mixed precision: float32 variables and outputs, loss scaling applied."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import training
from dlsuite.apps.runtime.distribute import make_strategy
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.precision import resolve_precision, set_precision
from tests.runtime.helpers import TINY_MLP, build_two_optimizer_model, two_optimizer_data, weights_of


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mlp_variables_and_outputs_stay_float32(tmp_path, policy):
    session = training.start("mlp", TINY_MLP, epochs=1, strategy="default",
                             precision_name=policy, run_dir=tmp_path, verbose=0)
    assert session.policy == policy
    model = training.build(session)
    train, _ = training.datasets(session)
    model.fit(train.take(2), epochs=1, verbose=0)
    assert {v.dtype for v in model.weights} == {"float32"}
    outputs = model(session.data.x_dev[:4])
    assert outputs.dtype == "float32"
    assert np.all(np.isfinite(outputs))
    hidden = model.get_layer("dense_0")
    assert hidden.compute_dtype == policy.removeprefix("mixed_")


def _one_step_delta(policy, scale=True):
    set_precision(policy)
    x, y = two_optimizer_data(16)
    # Losses 1e-8 of their size: float16 gradients underflow without scaling.
    model = build_two_optimizer_model(make_strategy("default"), loss_factor=1e-8,
                                      learning_rate=1e6, scale=scale)
    start = weights_of(model)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
    return model, [a - b for a, b in zip(weights_of(model), start)]


def test_both_optimizers_are_loss_scaled_and_move_like_float32():
    _, reference = _one_step_delta("float32")
    model, mixed = _one_step_delta("mixed_float16")
    assert all(isinstance(opt, keras.optimizers.LossScaleOptimizer)
               for opt in model.role_optimizers.values())
    # Hidden kernels of both networks (index 0 and 4) moved as in float32.
    for index in (0, 4):
        assert np.max(np.abs(reference[index])) > 1e-4
        np.testing.assert_allclose(mixed[index], reference[index],
                                   rtol=0.05, atol=0.02 * np.max(np.abs(reference[index])))


def test_without_loss_scaling_float16_training_stalls():
    """Shows the test above can fail: unscaled float16 gradients underflow."""
    _, stalled = _one_step_delta("mixed_float16", scale=False)
    assert np.max(np.abs(stalled[0])) == 0.0


def test_mixed_bfloat16_two_optimizer_model_trains():
    set_precision("mixed_bfloat16")
    x, y = two_optimizer_data(64)
    model = build_two_optimizer_model(make_strategy("default"), learning_rate=0.05)
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=5, verbose=0)
    losses = history.history["first_loss"]
    assert losses[-1] < losses[0]
    assert {v.dtype for v in model.weights if "first" in v.path} == {"float32"}


def test_auto_precision_is_a_concrete_policy_and_bad_names_are_refused():
    assert resolve_precision("auto") in ("float32", "mixed_float16", "mixed_bfloat16")
    with pytest.raises(UsageError, match="valid: auto, float32"):
        resolve_precision("float8")
