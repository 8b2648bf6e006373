"""MultiOptimizerModel's step order and its shared forward pass, checked
against a step worked out by hand."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime.custom_step import MultiOptimizerModel


class Scalars(MultiOptimizerModel):
    """h = v * x (shared); role "a" fits w * h to y without moving v; role
    "b" fits w * h to -y through the shared h, so its gradient needs the w
    role "a" has just updated."""

    roles = ("a", "b")

    def __init__(self, share=True, **kwargs):
        super().__init__(**kwargs)
        self.share = share
        self.w = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.5), name="w")
        self.v = self.add_weight(shape=(), initializer=keras.initializers.Constant(2.0), name="v")
        self.shared_calls = 0

    def role_variables(self, role):
        return [self.w] if role == "a" else [self.v]

    def shared_forward(self, data, training):
        if not self.share:
            return None
        self.shared_calls += 1
        x, _ = data
        return self.v * x

    def compute_terms(self, role, data, training, shared=None):
        x, y = data
        h = shared if shared is not None else self.v * x
        if role == "a":
            return {"loss": tf.square(self.w * tf.stop_gradient(h) - y)}
        return {"loss": tf.square(self.w * h + y)}


def _one_step(model):
    x = np.array([1.0, 3.0], "float32")
    y = np.array([2.0, -1.0], "float32")
    model.compile(optimizers={"a": keras.optimizers.SGD(0.1), "b": keras.optimizers.SGD(0.1)})
    model.build_optimizers()
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return x, y, float(model.w.numpy()), float(model.v.numpy())


def _by_hand(x, y, w, v, lr=0.1):
    h = v * x
    w_next = w - lr * np.mean(2 * (w * h - y) * h)  # role a first
    v_next = v - lr * np.mean(2 * (w_next * h + y) * w_next * x)  # then b, through h
    return w_next, v_next


@pytest.mark.parametrize("share", [True, False])
def test_roles_train_in_order_and_through_the_shared_forward_pass(share):
    model = Scalars(share=share)
    x, y, w, v = _one_step(model)
    w_expected, v_expected = _by_hand(x, y, 0.5, 2.0)
    np.testing.assert_allclose([w, v], [w_expected, v_expected], rtol=1e-5)
    # Negative control: b's step with the old w is measurably different.
    v_with_old_w = 2.0 - 0.1 * np.mean(2 * (0.5 * 2.0 * x + y) * 0.5 * x)
    assert abs(v_with_old_w - v_expected) > 1e-2
    if share:
        assert model.shared_calls == 1  # traced once, for both roles


class Critic(MultiOptimizerModel):
    """A one-role model whose input gradient is tiny: two float16 layers of
    weight 1e-4 each, so d output / d x = 1e-8 per input, below float16's
    smallest subnormal (6e-8)."""

    roles = ("critic",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        small = keras.initializers.Constant(1e-4)
        self.net = keras.Sequential([keras.Input((4,)),
                                     keras.layers.Dense(1, use_bias=False, kernel_initializer=small),
                                     keras.layers.Dense(1, use_bias=False, kernel_initializer=small)])

    def role_variables(self, role):
        return self.net.trainable_variables

    def compute_terms(self, role, data, training, shared=None):
        gradient = self.input_gradient("critic", self.net, data)
        return {"loss": tf.reduce_sum(tf.square(gradient), axis=1)}


def test_input_gradient_is_loss_scaled_under_mixed_float16():
    keras.config.set_dtype_policy("mixed_float16")
    model = Critic()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.build_optimizers()
    assert isinstance(model.role_optimizers["critic"], keras.optimizers.LossScaleOptimizer)
    x = tf.constant(np.random.default_rng(0).standard_normal((6, 4)), tf.float32)
    gradient = model.input_gradient("critic", model.net, x)
    np.testing.assert_allclose(gradient.numpy(), np.full((6, 4), 1e-8), rtol=2e-3)
    # Negative control: the same gradient without the loss scale underflows.
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(tf.cast(model.net(x), tf.float32))
    assert np.all(tape.gradient(total, x).numpy() == 0.0)


def test_input_gradient_per_example_and_nested_on_two_replicas():
    """The gradient of each example's output with respect to its own input,
    differentiable again, and the same on one and on two replicas."""
    from dlsuite.apps.runtime.distribute import make_strategy

    x = np.random.default_rng(1).standard_normal((8, 4)).astype("float32")

    def one_step(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(3)
            model = Critic()
            for layer in model.net.layers:
                layer.kernel.assign(np.random.default_rng(4).standard_normal(layer.kernel.shape))
            model.compile(optimizer=keras.optimizers.SGD(0.01))
            model.build_optimizers()
        before = [v.numpy() for v in model.net.trainable_variables]
        model.fit(x, batch_size=8, epochs=1, verbose=0, shuffle=False)
        return model, before

    single, before = one_step(tf.distribute.get_strategy())
    first, second = (v.numpy() for v in single.net.trainable_variables)
    gradient = single.input_gradient("critic", single.net, tf.constant(x)).numpy()
    np.testing.assert_allclose(gradient, np.repeat((first @ second).T, 8, axis=0), rtol=1e-5)
    # d/dW of mean |W1 W2|^2 moved the weights (the nested gradient).
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(single.net.get_weights(), before))
    mirrored, _ = one_step(make_strategy("mirrored"))
    for one, two in zip(single.net.get_weights(), mirrored.net.get_weights()):
        np.testing.assert_allclose(two, one, rtol=0, atol=1e-6)
