"""``optimizers``: the optimizer study.

Trains the same ``mlp`` network from the same initial weights (same seed)
with each of the curriculum's optimizers: batch gradient descent (the whole
training set per step), stochastic gradient descent (one example per step),
mini-batch gradient descent, momentum, Adagrad, RMSprop and Adam. Each is a
full run of its own under the study's directory (one TensorBoard run per
optimizer), and the study writes one figure of dev loss against epoch and
against wall-clock time.

The learning rates are each optimizer's usual working value for this
network (gradient descent on the whole batch takes one step an epoch and
needs a large one); ``learning_rate_scale`` multiplies all of them.
"""

import dataclasses
import typing

from dlsuite.apps.mlp import MLPConfig
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import App
from dlsuite.apps.runtime.config import OPTIMIZERS

from dlsuite.apps.runtime.figures import save_figure, pyplot as plt

LEARNING_RATES = {"batch_gd": 0.5, "sgd": 0.01, "minibatch_gd": 0.1, "momentum": 0.05,
                  "adagrad": 0.05, "rmsprop": 0.001, "adam": 0.001}
# The mlp fields the study passes through to every child run.
SHARED_FIELDS = ("seed", "dataset", "hidden_units", "activation", "epochs", "batch_size", "l2",
                 "dropout", "batch_norm", "limit", "data_dir")


@dataclasses.dataclass(frozen=True)
class OptimizerStudyConfig(MLPConfig):
    dataset: typing.Literal["breast_cancer", "digits", "mnist5k", "fashion_mnist", "csv"] = "digits"
    optimizers: tuple[str, ...] = OPTIMIZERS
    learning_rate_scale: float = 1.0
    epochs: int = 20
    dropout: float = 0.0
    # No early stopping: every optimizer gets the same number of epochs.
    patience: int = 0

    def reads(self, field):
        # The study's momentum is its momentum child's.
        return field == "momentum" and "momentum" in self.optimizers

    def validate(self):
        super().validate()
        unknown = [name for name in self.optimizers if name not in OPTIMIZERS]
        if unknown or not self.optimizers:
            raise ValueError(f"optimizers must be a comma-separated subset of "
                             f"{', '.join(OPTIMIZERS)}. Received: optimizers={self.optimizers}")
        if self.learning_rate_scale <= 0:
            raise ValueError(f"learning_rate_scale must be > 0. Received: "
                             f"learning_rate_scale={self.learning_rate_scale}")


@register_app("optimizers")
class OptimizerStudyApp(App):
    """Same network, same initial weights, one run per optimizer."""

    config_class = OptimizerStudyConfig
    description = "optimizer study: the mlp trained with each optimizer, loss vs epoch and time"
    is_study = True

    def make_datasets(self, config):
        from dlsuite.apps.mlp import MLPApp

        mlp = MLPApp()
        mlp.config = config
        return mlp.make_datasets(config)

    def sweep(self, config):
        shared = [f"{field}={_text(getattr(config, field))}" for field in SHARED_FIELDS]
        shared += ["patience=0"]
        return [(name, "mlp", shared + [
            f"optimizer={name}",
            f"learning_rate={LEARNING_RATES[name] * config.learning_rate_scale}",
        ] + ([f"momentum={config.momentum}"] if name == "momentum" else []))
            for name in config.optimizers]

    def summarize(self, runs, config, run):
        figure, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4))
        metrics, table = {}, ["| optimizer | learning rate | batch | epochs | wall-clock s | "
                              "final dev loss | test accuracy |", "|---|---|---|---|---|---|---|"]
        for label, (session, child_metrics) in runs.items():
            rows = session.run.read_history()
            key = "val_loss" if rows and "val_loss" in rows[0] else "loss"
            epochs = [row["epoch"] + 1 for row in rows]
            seconds = [row["time"] for row in rows]
            losses = [row[key] for row in rows]
            by_epoch.plot(epochs, losses, label=label)
            by_time.plot(seconds, losses, label=label)
            test = child_metrics["evaluation"].get("test", {})
            per_replica, _ = session.batch_size()
            metrics[label] = {"learning_rate": session.config.learning_rate,
                              "batch_size": per_replica, "seconds": seconds[-1] if seconds else 0.0,
                              "final_dev_loss": losses[-1] if losses else None,
                              "test_accuracy": test.get("accuracy"),
                              "initial_weights_sha256":
                                  session.run.read_record().get("initial_weights_sha256")}
            table.append(f"| {label} | {session.config.learning_rate:g} | {per_replica} | "
                         f"{len(rows)} | {metrics[label]['seconds']:.1f} | "
                         f"{metrics[label]['final_dev_loss']:.4f} | {test.get('accuracy', 0):.4f} |")
        for axis, xlabel in ((by_epoch, "epoch"), (by_time, "wall-clock seconds")):
            axis.set_xlabel(xlabel)
            axis.set_ylabel("dev loss")
            axis.set_yscale("log")
            axis.legend()
        figure.suptitle(f"{config.dataset}: the same network and initial weights, per optimizer")
        figure.tight_layout()
        save_figure(figure, run.path / "optimizers.png")
        sections = ["## Loss against epoch and wall-clock time", "", "![optimizers](optimizers.png)",
                    "", "\n".join(table), ""]
        return {"optimizers": metrics}, sections


def _text(value):
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value)
