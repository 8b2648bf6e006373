"""Keras's optimizers against the curriculum's update formulas.

The toy problem is logistic regression: one ``keras.layers.Dense(1)`` on six
fixed examples with three features, binary cross-entropy on the logits, fixed
initial weights. Each test takes the gradient with ``tf.GradientTape``, lets a
Keras optimizer take three steps (six for momentum), and replays the same
gradients through a float64 numpy version of the curriculum's formula; the two
paths are compared after every step, so step 1 and the accumulated moments and
bias correction of step 3 are both checked. They must agree to float32
precision: weights within 1e-6, and every displacement ``W_t - W_0`` within a
relative 1e-5 plus 4 float32 ulps. Each optimizer also has a negative control
(a plausible wrong mapping) that the same check rejects by a factor of at
least 100 over the tolerance (10 for a learning rate off by 0.1 %), so the
agreement is not vacuous.

Notation is the curriculum's: ``dW`` the gradient, ``alpha`` the learning
rate, ``t`` the step count starting at 1, ``v_dW`` the first moment, ``s_dW``
the second moment, ``eps`` the curriculum's epsilon (added to ``sqrt(s)``).

Mapping, curriculum -> Keras (Keras 3.15 sources, ``keras/src/optimizers``)
===========================================================================

Gradient descent   W := W - alpha dW
    keras.optimizers.SGD(learning_rate=alpha)                        exact

Momentum           v_dW := beta v_dW + (1 - beta) dW;  W := W - alpha v_dW
    Keras:         m := momentum m - learning_rate dW;  W := W + m
    keras.optimizers.SGD(learning_rate=alpha * (1 - beta), momentum=beta)
    exact: by induction Keras's slot is m = -alpha v_dW at every step.
    SGD(learning_rate=alpha, momentum=beta) is instead the variant without
    the (1 - beta) factor, whose steps are 1 / (1 - beta) times larger.

RMSprop            s_dW := beta2 s_dW + (1 - beta2) dW^2
                   W := W - alpha dW / (sqrt(s_dW) + eps)
    Keras:         W := W - learning_rate dW / sqrt(s_dW + epsilon)
    keras.optimizers.RMSprop(learning_rate=alpha, rho=beta2, epsilon=...,
                             momentum=0.0, centered=False)   (the defaults)
    Keras's s_dW (slot "velocity") starts at 0, like the curriculum's.
    epsilon sits INSIDE the square root, so no constant maps one epsilon to
    the other (Keras's would be eps^2 + 2 eps sqrt(s_dW), which changes with
    s_dW). The two are identical with eps = epsilon = 0; otherwise each step
    is within a relative eps / sqrt(s_dW) (curriculum) or epsilon / (2 s_dW)
    (Keras) of that zero-epsilon step.

Adagrad            s_dW := s_dW + dW^2;  W := W - alpha dW / (sqrt(s_dW) + eps)
    Keras:         W := W - learning_rate dW / sqrt(s_dW + epsilon)
    keras.optimizers.Adagrad(learning_rate=alpha,
                             initial_accumulator_value=s_0, epsilon=...)
    Keras's s_dW (slot "accumulator") starts at initial_accumulator_value,
    0.1 by default: pass 0.0 for the curriculum's s_0 = 0, or start the
    curriculum's s_dW at 0.1. epsilon sits inside the square root, as in
    RMSprop: exact with eps = epsilon = 0.

Adam               v_dW := beta1 v_dW + (1 - beta1) dW
                   s_dW := beta2 s_dW + (1 - beta2) dW^2
                   v_hat = v_dW / (1 - beta1^t);  s_hat = s_dW / (1 - beta2^t)
                   W := W - alpha v_hat / (sqrt(s_hat) + eps)
    Keras:         alpha_t = learning_rate sqrt(1 - beta_2^t) / (1 - beta_1^t)
                   W := W - alpha_t v_dW / (sqrt(s_dW) + epsilon)
    keras.optimizers.Adam(learning_rate=alpha, beta_1=beta1, beta_2=beta2,
                          epsilon=eps * sqrt(1 - beta2^t), amsgrad=False)
    Keras's slots "momentum" and "velocity" are the UNcorrected v_dW and s_dW;
    the bias correction is folded into alpha_t. Multiplying the curriculum's
    update through by sqrt(1 - beta2^t) shows the two agree exactly when
    Keras's epsilon = eps sqrt(1 - beta2^t) ("epsilon hat" in Kingma and Ba).
    That is a different constant at every step, so a fixed Keras epsilon is
    the curriculum's with eps_t = epsilon / sqrt(1 - beta2^t); both agree
    exactly with eps = epsilon = 0. Keras's default epsilon=1e-7 equals a
    curriculum eps of about 3e-6 at t = 1 with beta2 = 0.999.
    Keras evaluates 1 - beta_2^t in float32, where 0.999 rounds to 0.99900001
    and the subtraction cancels three digits: alpha_t is about 6.5e-6 (t = 1)
    relative off the exact value. That, not the formula, is why the
    displacement tolerance is 1e-5 rather than 1e-6.

Slots, curriculum -> Keras optimizer variable (``<layer>_<weight>_<slot>``)
    momentum  v_dW -> SGD "momentum" = -alpha v_dW
    RMSprop   s_dW -> RMSprop "velocity" = s_dW
    Adagrad   s_dW -> Adagrad "accumulator" = s_dW
    Adam      v_dW -> Adam "momentum" = v_dW;  s_dW -> Adam "velocity" = s_dW
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

# Logistic regression on six examples (rows) with three features.
FEATURES = np.array(
    [
        [0.5, -1.2, 0.3],
        [1.5, 0.4, -0.7],
        [-0.8, 0.9, 1.1],
        [0.2, -0.3, -1.4],
        [-1.1, -0.6, 0.5],
        [0.9, 1.3, 0.2],
    ],
    dtype="float32",
)
LABELS = np.array([[1.0], [0.0], [1.0], [0.0], [1.0], [0.0]], dtype="float32")
INITIAL_KERNEL = np.array([[0.5], [-0.3], [0.8]], dtype="float32")
INITIAL_BIAS = np.array([0.1], dtype="float32")

# float32 Keras against a float64 reference. Weights agree within 1e-6. Each
# displacement W_t - W_0 agrees within a relative 1e-5 (float32 arithmetic in
# the update; for Adam, Keras's float32 1 - beta2^t, see the module docstring)
# plus 4 float32 ulps of a weight below 1 (the weights themselves are rounded).
WEIGHT_RTOL, WEIGHT_ATOL = 1e-6, 1e-6
DISPLACEMENT_RTOL, DISPLACEMENT_ATOL = 1e-5, 4 * 2.0**-24
STEPS = 3


# -- the Keras side -----------------------------------------------------------


def build_layer():
    layer = keras.layers.Dense(1)
    layer.build((None, FEATURES.shape[1]))
    layer.set_weights([INITIAL_KERNEL, INITIAL_BIAS])
    return layer


def loss_and_gradients(layer):
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(LABELS, layer(FEATURES))
    return loss, tape.gradient(loss, layer.trainable_variables)


def keras_path(optimizer, steps):
    """Keras's weights after each step, and the gradients it was given.

    Returns ``(layer, gradients_per_step, weights_per_step)``: lists over
    steps of ``[kernel, bias]`` as float64 arrays.
    """
    layer = build_layer()
    gradients_per_step, weights_per_step = [], []
    for _ in range(steps):
        _, gradients = loss_and_gradients(layer)
        optimizer.apply_gradients(zip(gradients, layer.trainable_variables))
        gradients_per_step.append([np.asarray(g, dtype="float64") for g in gradients])
        weights_per_step.append([np.asarray(v, dtype="float64") for v in layer.trainable_variables])
    return layer, gradients_per_step, weights_per_step


def optimizer_slot(optimizer, variable, slot):
    """The optimizer variable that holds ``slot`` ("momentum", ...) for ``variable``."""
    suffix = f"{variable.name}_{slot}"
    (match,) = [v for v in optimizer.variables if v.name.endswith(suffix)]
    return np.asarray(match, dtype="float64")


# -- the curriculum's formulas in float64 numpy -------------------------------


def gradient_descent(alpha):
    def step(weights, dW, state, t):
        return weights - alpha * dW

    return step


def momentum(alpha, beta):
    def step(weights, dW, state, t):
        state["v"] = beta * state.get("v", 0.0) + (1 - beta) * dW
        return weights - alpha * state["v"]

    return step


def rmsprop(alpha, beta2, eps, epsilon_inside_root=False):
    """The curriculum's RMSprop; ``epsilon_inside_root`` moves eps to Keras's place."""

    def step(weights, dW, state, t):
        state["s"] = beta2 * state.get("s", 0.0) + (1 - beta2) * dW**2
        if epsilon_inside_root:
            return weights - alpha * dW / np.sqrt(state["s"] + eps)
        return weights - alpha * dW / (np.sqrt(state["s"]) + eps)

    return step


def adagrad(alpha, eps, initial_s=0.0, epsilon_inside_root=False):
    def step(weights, dW, state, t):
        state["s"] = state.get("s", initial_s) + dW**2
        if epsilon_inside_root:
            return weights - alpha * dW / np.sqrt(state["s"] + eps)
        return weights - alpha * dW / (np.sqrt(state["s"]) + eps)

    return step


def adam(alpha, beta1, beta2, eps, bias_correction=True):
    """The curriculum's Adam; ``eps`` may be a function of the step ``t``."""
    eps_at = eps if callable(eps) else (lambda t: eps)

    def step(weights, dW, state, t):
        state["v"] = beta1 * state.get("v", 0.0) + (1 - beta1) * dW
        state["s"] = beta2 * state.get("s", 0.0) + (1 - beta2) * dW**2
        v_hat, s_hat = state["v"], state["s"]
        if bias_correction:
            v_hat = v_hat / (1 - beta1**t)
            s_hat = s_hat / (1 - beta2**t)
        return weights - alpha * v_hat / (np.sqrt(s_hat) + eps_at(t))

    return step


def course_path(update, gradients_per_step):
    """Replay Keras's gradients through ``update``; weights and state per parameter."""
    weights = [INITIAL_KERNEL.astype("float64"), INITIAL_BIAS.astype("float64")]
    states = [{} for _ in weights]
    weights_per_step = []
    for t, gradients in enumerate(gradients_per_step, start=1):
        weights = [update(w, g, state, t) for w, g, state in zip(weights, gradients, states)]
        weights_per_step.append(weights)
    return weights_per_step, states


# -- comparing paths ------------------------------------------------------------

START = [INITIAL_KERNEL.astype("float64"), INITIAL_BIAS.astype("float64")]


def displacement_mismatch(keras_weights, course_weights):
    """How far the paths' displacements W_t - W_0 are apart, in units of the tolerance.

    At most 1 for paths ``assert_same_path`` accepts.
    """
    worst = 0.0
    for keras_step, course_step in zip(keras_weights, course_weights, strict=True):
        for k, c, w0 in zip(keras_step, course_step, START, strict=True):
            allowed = DISPLACEMENT_ATOL + DISPLACEMENT_RTOL * np.abs(c - w0)
            worst = max(worst, float(np.max(np.abs((k - w0) - (c - w0)) / allowed)))
    return worst


def assert_same_path(keras_weights, course_weights):
    paths = zip(keras_weights, course_weights, strict=True)
    for t, (keras_step, course_step) in enumerate(paths, start=1):
        for name, k, c, w0 in zip(("kernel", "bias"), keras_step, course_step, START, strict=True):
            np.testing.assert_allclose(k, c, rtol=WEIGHT_RTOL, atol=WEIGHT_ATOL,
                                       err_msg=f"{name} after step {t}")
            np.testing.assert_allclose(k - w0, c - w0, rtol=DISPLACEMENT_RTOL,
                                       atol=DISPLACEMENT_ATOL,
                                       err_msg=f"{name} displacement after step {t}")


def assert_different_path(keras_weights, course_weights, at_least=100):
    """A negative control: ``assert_same_path`` rejects these paths, by a wide margin."""
    with pytest.raises(AssertionError):
        assert_same_path(keras_weights, course_weights)
    assert displacement_mismatch(keras_weights, course_weights) > at_least


# -- the toy problem itself ---------------------------------------------------


def test_tape_gradient_is_the_curriculum_logistic_gradient():
    """dW = X^T (A - Y) / m and db = mean(A - Y), with A = sigmoid(X W + b)."""
    loss, (kernel_gradient, bias_gradient) = loss_and_gradients(build_layer())
    x, y = FEATURES.astype("float64"), LABELS.astype("float64")
    activations = 1 / (1 + np.exp(-(x @ INITIAL_KERNEL + INITIAL_BIAS)))
    m = x.shape[0]
    np.testing.assert_allclose(kernel_gradient, x.T @ (activations - y) / m, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bias_gradient, np.mean(activations - y, axis=0),
                               rtol=1e-5, atol=1e-7)
    expected_loss = -np.mean(y * np.log(activations) + (1 - y) * np.log(1 - activations))
    np.testing.assert_allclose(float(loss), expected_loss, rtol=1e-5)
    # Steps would be trivial if a gradient component were zero.
    assert np.all(np.abs(kernel_gradient) > 1e-3) and np.all(np.abs(bias_gradient) > 1e-3)


# Every test below takes STEPS steps and compares the paths after each of them,
# so step 1 and step 3 (accumulated moments, bias correction at t = 3) are both
# checked.

# -- gradient descent ---------------------------------------------------------

ALPHA = 0.1
SMALL_ALPHA = 0.01


def test_sgd_is_gradient_descent():
    _, gradients, keras_weights = keras_path(keras.optimizers.SGD(learning_rate=ALPHA), STEPS)
    course_weights, _ = course_path(gradient_descent(ALPHA), gradients)
    assert_same_path(keras_weights, course_weights)
    # Negative control: the check notices a learning rate one in a thousand off.
    off_by_a_thousandth, _ = course_path(gradient_descent(ALPHA * 1.001), gradients)
    assert_different_path(keras_weights, off_by_a_thousandth, at_least=10)


# -- momentum -----------------------------------------------------------------

BETA = 0.9


def test_sgd_momentum_is_the_curriculum_momentum_with_mapped_learning_rate():
    optimizer = keras.optimizers.SGD(learning_rate=ALPHA * (1 - BETA), momentum=BETA)
    layer, gradients, keras_weights = keras_path(optimizer, 2 * STEPS)
    course_weights, states = course_path(momentum(ALPHA, BETA), gradients)
    assert_same_path(keras_weights, course_weights)
    # Keras's velocity is the curriculum's, scaled by -alpha.
    for variable, state in zip(layer.trainable_variables, states, strict=True):
        np.testing.assert_allclose(optimizer_slot(optimizer, variable, "momentum"),
                                   -ALPHA * state["v"], rtol=1e-5, atol=1e-9)


def test_sgd_momentum_without_the_mapping_takes_other_steps():
    optimizer = keras.optimizers.SGD(learning_rate=ALPHA, momentum=BETA)
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, _ = course_path(momentum(ALPHA, BETA), gradients)
    assert_different_path(keras_weights, course_weights)
    # The first step is 1 / (1 - beta) times the curriculum's.
    for k, c, w0 in zip(keras_weights[0], course_weights[0], START, strict=True):
        np.testing.assert_allclose(k - w0, (c - w0) / (1 - BETA), rtol=1e-4)


# -- RMSprop ------------------------------------------------------------------

BETA2_RMSPROP = 0.9


def test_rmsprop_is_the_curriculum_rmsprop_with_zero_epsilon():
    optimizer = keras.optimizers.RMSprop(learning_rate=SMALL_ALPHA, rho=BETA2_RMSPROP, epsilon=0.0)
    layer, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, states = course_path(rmsprop(SMALL_ALPHA, BETA2_RMSPROP, eps=0.0), gradients)
    assert_same_path(keras_weights, course_weights)
    for variable, state in zip(layer.trainable_variables, states, strict=True):
        np.testing.assert_allclose(optimizer_slot(optimizer, variable, "velocity"), state["s"],
                                   rtol=1e-5)
    # Negative control: Keras's rho weights the OLD average, like beta2, not 1 - beta2.
    rho_swapped, _ = course_path(rmsprop(SMALL_ALPHA, 1 - BETA2_RMSPROP, eps=0.0), gradients)
    assert_different_path(keras_weights, rho_swapped)


def test_rmsprop_epsilon_sits_inside_the_square_root():
    """A large epsilon: Keras matches eps inside sqrt, not the curriculum's eps outside."""
    eps = 1e-2  # comparable to sqrt(s_dW), so its place shows
    optimizer = keras.optimizers.RMSprop(learning_rate=SMALL_ALPHA, rho=BETA2_RMSPROP, epsilon=eps)
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    inside, _ = course_path(rmsprop(SMALL_ALPHA, BETA2_RMSPROP, eps, epsilon_inside_root=True),
                            gradients)
    outside, _ = course_path(rmsprop(SMALL_ALPHA, BETA2_RMSPROP, eps), gradients)
    assert_same_path(keras_weights, inside)
    assert_different_path(keras_weights, outside)


# -- Adagrad ------------------------------------------------------------------


@pytest.mark.parametrize("initial_s", [0.0, 0.1])
def test_adagrad_is_the_curriculum_adagrad_with_zero_epsilon(initial_s):
    optimizer = keras.optimizers.Adagrad(learning_rate=SMALL_ALPHA,
                                         initial_accumulator_value=initial_s, epsilon=0.0)
    layer, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, states = course_path(adagrad(SMALL_ALPHA, eps=0.0, initial_s=initial_s),
                                         gradients)
    assert_same_path(keras_weights, course_weights)
    for variable, state in zip(layer.trainable_variables, states, strict=True):
        np.testing.assert_allclose(optimizer_slot(optimizer, variable, "accumulator"), state["s"],
                                   rtol=1e-5)


def test_adagrad_default_accumulator_is_not_the_curriculum_zero_start():
    optimizer = keras.optimizers.Adagrad(learning_rate=SMALL_ALPHA, epsilon=0.0)  # s_0 = 0.1
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, _ = course_path(adagrad(SMALL_ALPHA, eps=0.0, initial_s=0.0), gradients)
    assert_different_path(keras_weights, course_weights)


def test_adagrad_epsilon_sits_inside_the_square_root():
    eps = 1e-2
    optimizer = keras.optimizers.Adagrad(learning_rate=SMALL_ALPHA, initial_accumulator_value=0.0,
                                         epsilon=eps)
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    inside, _ = course_path(adagrad(SMALL_ALPHA, eps, epsilon_inside_root=True), gradients)
    outside, _ = course_path(adagrad(SMALL_ALPHA, eps), gradients)
    assert_same_path(keras_weights, inside)
    assert_different_path(keras_weights, outside)


# -- Adam ---------------------------------------------------------------------

BETA1, BETA2 = 0.9, 0.999


def keras_adam(epsilon):
    return keras.optimizers.Adam(learning_rate=SMALL_ALPHA, beta_1=BETA1, beta_2=BETA2,
                                 epsilon=epsilon)


def test_adam_is_the_curriculum_bias_corrected_adam_with_zero_epsilon():
    optimizer = keras_adam(epsilon=0.0)
    layer, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, states = course_path(adam(SMALL_ALPHA, BETA1, BETA2, eps=0.0), gradients)
    assert_same_path(keras_weights, course_weights)
    # Keras keeps the uncorrected moments; the correction lives in alpha_t.
    for variable, state in zip(layer.trainable_variables, states, strict=True):
        np.testing.assert_allclose(optimizer_slot(optimizer, variable, "momentum"), state["v"],
                                   rtol=1e-5)
        np.testing.assert_allclose(optimizer_slot(optimizer, variable, "velocity"), state["s"],
                                   rtol=1e-5)


def test_adam_without_bias_correction_takes_other_steps():
    optimizer = keras_adam(epsilon=0.0)
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    uncorrected, _ = course_path(adam(SMALL_ALPHA, BETA1, BETA2, eps=0.0, bias_correction=False),
                                 gradients)
    assert_different_path(keras_weights, uncorrected)
    assert_different_path(keras_weights[:1], uncorrected[:1])  # already at step 1
    # With eps = 0 the corrected first step is alpha per weight; the uncorrected
    # one is (1 - beta1) / sqrt(1 - beta2), about 3.16 times larger.
    for k, u, w0 in zip(keras_weights[0], uncorrected[0], START, strict=True):
        np.testing.assert_allclose(np.abs(k - w0), SMALL_ALPHA, rtol=DISPLACEMENT_RTOL)
        np.testing.assert_allclose(np.abs(u - w0), SMALL_ALPHA * (1 - BETA1) / np.sqrt(1 - BETA2))


def test_adam_first_step_matches_with_epsilon_scaled_by_the_bias_correction():
    """One step: Keras epsilon = eps * sqrt(1 - beta2) is exactly the curriculum's eps."""
    eps = 1e-2  # comparable to sqrt(s_hat) = |dW|, so a misplaced eps would show
    optimizer = keras_adam(epsilon=eps * np.sqrt(1 - BETA2))
    _, gradients, keras_weights = keras_path(optimizer, 1)
    course_weights, _ = course_path(adam(SMALL_ALPHA, BETA1, BETA2, eps), gradients)
    assert_same_path(keras_weights, course_weights)
    # Negative control: the same eps passed to Keras unscaled.
    optimizer = keras_adam(epsilon=eps)
    _, gradients, unscaled = keras_path(optimizer, 1)
    assert_different_path(unscaled, course_path(adam(SMALL_ALPHA, BETA1, BETA2, eps), gradients)[0])


def test_adam_epsilon_is_the_only_difference():
    """A fixed Keras epsilon is the curriculum's Adam with eps_t = epsilon / sqrt(1 - beta2^t)."""
    keras_epsilon = 1e-3
    optimizer = keras_adam(epsilon=keras_epsilon)
    _, gradients, keras_weights = keras_path(optimizer, STEPS)
    course_weights, _ = course_path(
        adam(SMALL_ALPHA, BETA1, BETA2, eps=lambda t: keras_epsilon / np.sqrt(1 - BETA2**t)),
        gradients,
    )
    assert_same_path(keras_weights, course_weights)
    # Negative control: the same number as the curriculum's constant eps.
    constant_eps, _ = course_path(adam(SMALL_ALPHA, BETA1, BETA2, eps=keras_epsilon), gradients)
    assert_different_path(keras_weights, constant_eps)
