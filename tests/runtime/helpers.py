"""Small shared pieces for the runtime tests."""

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime.custom_step import MultiOptimizerModel

# A tiny, fast mlp run: no dropout (its masks differ per replica).
TINY_MLP = ["dataset=digits", "limit=200", "hidden_units=16", "dropout=0", "l2=0.001",
            "patience=0", "batch_size=16", "learning_rate=0.01",
            # One step per execution, so batch-level callbacks see every batch.
            "steps_per_execution=1"]


class CrashAt(keras.callbacks.Callback):
    """Raise in the middle of an epoch, like a killed process."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self._epoch = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._epoch == self.epoch and batch == self.batch:
            raise KeyboardInterrupt(f"injected crash at epoch {self.epoch} batch {self.batch}")


@keras.saving.register_keras_serializable(package="dlsuite_tests")
class TwoOptimizerModel(MultiOptimizerModel):
    """Two small networks, each trained by its own optimizer on its own loss.

    ``loss_factor`` shrinks both losses so that float16 gradients underflow
    unless the loss is scaled.
    """

    roles = ("first", "second")
    logged_terms = {"first": ("first_error",)}

    def __init__(self, loss_factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.loss_factor = loss_factor
        self.first = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                                       keras.layers.Dense(1, dtype="float32")], name="first")
        self.second = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"),
                                        keras.layers.Dense(1, dtype="float32")], name="second")

    def role_variables(self, role):
        return getattr(self, role).trainable_variables

    def compute_terms(self, role, data, training, shared=None):
        x, y = data
        net = getattr(self, role)
        error = tf.squeeze(net(x, training=training), -1) - (y if role == "first" else -y)
        loss = self.loss_factor * tf.square(tf.cast(error, "float32"))
        terms = {"loss": loss}
        if role == "first":
            terms["first_error"] = tf.abs(tf.cast(error, "float32"))
        return terms

    def get_config(self):
        return {**super().get_config(), "loss_factor": self.loss_factor}


def two_optimizer_data(count=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32")).astype("float32")
    return x, y


def build_two_optimizer_model(strategy, loss_factor=1.0, learning_rate=0.1, scale=True):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = TwoOptimizerModel(loss_factor=loss_factor)
        optimizers = {"first": keras.optimizers.SGD(learning_rate),
                      "second": keras.optimizers.SGD(learning_rate, momentum=0.9)}
        if scale:
            model.compile(optimizers=optimizers)
        else:  # what a hand-written train_step without loss scaling does
            model.compile(optimizers=optimizers)
            model.role_optimizers = {role: opt.inner_optimizer
                                     if isinstance(opt, keras.optimizers.LossScaleOptimizer) else opt
                                     for role, opt in model.role_optimizers.items()}
        model.build_optimizers()
    return model


def weights_of(model):
    return [np.array(w, dtype="float64") for w in model.get_weights()]


def cli_process(args, cwd, timeout=600, env=None):
    """Run ``dlsuite ARGS`` in a new process (as a user or a worker would)."""
    import os
    import subprocess
    import sys

    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "dlsuite.apps.cli", *map(str, args)], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def saved_weights(path):
    """Every weight of the model saved at ``path`` (``best.keras``), float64."""
    from dlsuite.apps.runtime import safe_load

    return [np.array(w, dtype="float64") for w in safe_load.load_model(path).get_weights()]


def copy_run(run_dir, tmp_path):
    """A copy of the run directory ``run_dir`` under ``tmp_path``, for a test
    that corrupts or resumes it without touching the shared original."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy
