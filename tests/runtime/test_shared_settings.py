"""Shared settings mean the same in every app, or are refused (issue 31,
point 3, as far as it is done): yolo and the R-CNN family build
``config.optimizer`` through the runtime, with the runtime's learning-rate
schedule, and a setting nothing would read is refused with one line."""

import dataclasses
import math

import keras
import pytest

from dlsuite.apps import registry
from dlsuite.apps.cli import main
from dlsuite.apps.runtime import config as config_lib
from dlsuite.apps.runtime import optim, training
from dlsuite.apps.runtime.config import OPTIMIZERS
from dlsuite.apps.errors import UsageError
from tests.apps.test_rcnn_app import TINY as RCNN_TINY
from tests.apps.test_yolo_app import TINY as YOLO_TINY

KERAS_CLASS = {"batch_gd": "SGD", "sgd": "SGD", "minibatch_gd": "SGD", "momentum": "SGD",
               "adagrad": "Adagrad", "rmsprop": "RMSprop", "adam": "Adam"}


def _built(app, overrides, tmp_path):
    session = training.start(app, overrides, strategy="default", precision_name="float32",
                             run_dir=tmp_path, verbose=0)
    try:
        return session, training.build(session)
    finally:
        session.release()


@pytest.mark.parametrize("app, tiny, name", [("yolo", YOLO_TINY, "rmsprop"),
                                             ("rcnn", RCNN_TINY, "momentum")])
def test_detectors_train_with_the_optimizer_asked_for(app, tiny, name, tmp_path):
    session, model = _built(app, tiny + [f"optimizer={name}", "momentum=0.5"
                                         if name == "momentum" else "seed=1"], tmp_path)
    optimizer = model.optimizer
    assert type(optimizer).__name__ == KERAS_CLASS[name]
    if name == "momentum":
        assert optimizer.momentum == pytest.approx(0.5)
    # The runtime's cosine schedule with warm-up, over the run's steps.
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    config = session.config
    steps = math.ceil(len(session.data.x_train) / config.batch_size)
    assert schedule.warmup_steps == int(config.warmup_epochs * steps)
    assert schedule.decay_steps == config.epochs * steps - schedule.warmup_steps


def test_constant_schedule_is_the_rate_itself():
    config = registry.get_app("yolo").default_config()
    constant = dataclasses.replace(config, lr_schedule="constant")
    assert optim.learning_rate_schedule(constant, 100) == constant.learning_rate
    # A config without the field (mlp) is constant too.
    mlp = registry.get_app("mlp").default_config()
    assert optim.learning_rate_schedule(mlp, 100) == mlp.learning_rate


@pytest.mark.parametrize("argv, message", [
    (["train", "mlp", "--set", "momentum=0.5"], "momentum=0.5 is read only with optimizer=momentum"),
    (["train", "yolo", "--set", "optimizer=sgd", "--set", "momentum=0.5"],
     "momentum=0.5 is read only with optimizer=momentum; YOLOConfig"),
    (["train", "gan", "--set", "optimizer=sgd"], "gan app trains both networks with Adam"),
    (["train", "gan", "--set", "variant=stylegan", "--set", "learning_rate=0.01"],
     "stylegan reads style_learning_rate"),
])
def test_settings_nothing_would_read_are_refused(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


@pytest.mark.parametrize("app", registry.names())
def test_every_app_takes_or_refuses_every_optimizer(app):
    """The config level of the sweep: each optimizer is accepted (and then
    built by the runtime) or refused with a line naming ``optimizer``."""
    default = registry.get_app(app).default_config()
    for name in OPTIMIZERS:
        try:
            config = config_lib.apply_overrides(default, [f"optimizer={name}"])
        except UsageError as error:
            assert "optimizer" in str(error)
        else:
            assert config.optimizer == name


def test_the_optimizer_study_passes_momentum_to_its_momentum_run_only():
    app = registry.get_app("optimizers")
    config = config_lib.apply_overrides(app.default_config(), ["momentum=0.8"])
    children = {label: overrides for label, _, overrides in app.sweep(config)}
    assert "momentum=0.8" in children["momentum"]
    assert not any(item.startswith("momentum=") for label, overrides in children.items()
                   if label != "momentum" for item in overrides)
    with pytest.raises(UsageError, match="momentum=0.8 is read only with optimizer=momentum"):
        config_lib.apply_overrides(app.default_config(), ["momentum=0.8", "optimizers=adam,sgd"])
