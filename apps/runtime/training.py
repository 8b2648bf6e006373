"""The one training path every app goes through.

``train()`` resolves the config, strategy and precision, loads the data,
builds the model in the strategy scope, fits it with the always-on
callbacks, evaluates it, exports it, checks the export and writes the
report. ``resume()``, ``evaluate()``, ``export()`` and ``report()`` reopen a
run directory. Apps supply only what differs (``apps.runtime.app.App``).
"""

import dataclasses

import keras
import tensorflow as tf

from apps import registry
from apps.runtime import config as config_lib
from apps.runtime import distribute, precision
from apps.runtime.errors import UsageError
from apps.runtime.export import export_model
from apps.runtime.optim import per_replica_batch_size
from apps.runtime.pipeline import make_pipeline
from apps.runtime.report import write_report
from apps.runtime.run_dir import RunDir
from callbacks import EpochHistoryLog


class TrainingDiverged(UsageError):
    """The loss became NaN or Inf. Exit status 3; the backup is kept."""

    exit_code = 3


@dataclasses.dataclass
class Session:
    """Everything resolved for one run."""

    app: object
    config: object
    run: RunDir
    strategy: object
    policy: str
    data: object = None
    model: object = None

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    def batch_size(self):
        """(per-replica, global) batch sizes for this run."""
        per_replica = per_replica_batch_size(
            self.config, len(self.data.x_train), self.replicas
        )
        return per_replica, per_replica * self.replicas


def _say(verbose, *parts):
    if verbose:
        print(*parts, flush=True)


def start(app_name, overrides=(), epochs=None, strategy="auto", precision_name="auto",
          run_dir=None, overwrite=False, verbose=1):
    """Resolve a new run: app, config, strategy, precision, run directory, data."""
    app = registry.get_app(app_name)
    overrides = list(overrides)
    if epochs is not None:
        overrides.append(f"epochs={epochs}")
    config = config_lib.apply_overrides(app.default_config(), overrides)
    app.config = config
    session = Session(
        app=app,
        config=config,
        run=None,
        strategy=distribute.make_strategy(strategy),
        policy=precision.set_precision(precision_name),
    )
    session.data = _load_data(session, verbose)
    session.run = RunDir.create(app.name, run_dir, overwrite=overwrite)
    session.run.write_record({
        "app": app.name,
        "config": config.to_dict(),
        "strategy": strategy,
        "replicas": session.replicas,
        "precision": session.policy,
        "data": session.data.record(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
    })
    return session


def reopen(run_dir, app_name=None, epochs=None, strategy="auto", verbose=1):
    """Resolve an existing run from its record (for --resume, evaluate, export)."""
    run = RunDir.open(run_dir)
    record = run.read_record()
    if app_name is not None and record["app"] != app_name:
        raise UsageError(
            f"{run.path} is a run of {record['app']!r}, not {app_name!r}; "
            f"use `dlsuite train {record['app']} --resume {run.path}`"
        )
    app = registry.get_app(record["app"])
    config = config_lib.config_from_dict(app.config_class, record["config"])
    if epochs is not None:
        config = config_lib.apply_overrides(config, [f"epochs={epochs}"])
        record["config"] = config.to_dict()
        run.write_record(record)
    app.config = config
    session = Session(
        app=app,
        config=config,
        run=run,
        strategy=distribute.make_strategy(strategy),
        policy=precision.set_precision(record.get("precision", "float32")),
    )
    session.data = _load_data(session, verbose)
    return session


def _load_data(session, verbose):
    data = session.app.make_datasets(session.config)
    sizes = data.split.get("sizes", {})
    _say(verbose, f"data: {data.name} from {data.source} "
         f"(train {sizes.get('train', len(data.x_train))} / dev {sizes.get('dev', len(data.x_dev))} "
         f"/ test {sizes.get('test', len(data.x_test))}, seed {data.split.get('seed')})")
    return data


def build(session):
    """Build and compile the app's model inside the strategy scope.

    The global seed is set first, so the same config gives the same initial
    weights on every strategy and precision.
    """
    keras.utils.set_random_seed(session.config.seed)
    with session.strategy.scope():
        model = session.app.build_model(session.config, session.data)
    session.model = model
    return model


def datasets(session):
    """(train, dev) pipelines at the run's global batch size."""
    app, data, config = session.app, session.data, session.config
    _, global_batch = session.batch_size()
    train = app.train_pipeline(data, global_batch, config.seed)
    if train is None:
        train = make_pipeline(app.to_inputs(data.x_train, data.y_train), global_batch,
                              shuffle=True, seed=config.seed)
    dev = None
    if len(data.x_dev):
        dev = make_pipeline(app.to_inputs(data.x_dev, data.y_dev), global_batch)
    return train, dev


def standard_callbacks(session, has_dev, app_callbacks=()):
    """The callbacks every run gets, in the order they must run.

    The app's own callbacks run after the NaN check and before the loggers,
    so metrics they add to the epoch logs reach TensorBoard and the history.
    """
    app, config, run = session.app, session.config, session.run
    monitor = app.monitor if has_dev else app.monitor.removeprefix("val_")
    found = [
        # Raise on NaN before anything saves the broken state.
        keras.callbacks.TerminateOnNaN(raise_error=True),
        *app_callbacks,
        EpochHistoryLog(run.history),
        keras.callbacks.BackupAndRestore(str(run.backup), delete_checkpoint=False),
        keras.callbacks.TensorBoard(str(run.tb)),
        keras.callbacks.ModelCheckpoint(
            str(run.best), monitor=monitor, mode=app.monitor_mode, save_best_only=True
        ),
    ]
    if has_dev and config.patience > 0:
        found.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=app.monitor_mode, patience=config.patience,
            restore_best_weights=True,
        ))
    return found


def fit(session, extra_callbacks=(), verbose=1):
    """Fit the session's model; resumes from the backup if there is one."""
    model = session.model or build(session)
    train, dev = datasets(session)
    app_callbacks = session.app.callbacks(session.config, session.data, session.run)
    callbacks = standard_callbacks(session, dev is not None, app_callbacks)
    callbacks += list(extra_callbacks)
    per_replica, global_batch = session.batch_size()
    _say(verbose, f"training {session.app.name}: {session.config.epochs} epochs, batch "
         f"{per_replica} x {session.replicas} replica(s) = {global_batch}, "
         f"precision {session.policy}, run {session.run.path}")
    try:
        history = model.fit(
            train, validation_data=dev, epochs=session.config.epochs,
            callbacks=callbacks, verbose=verbose, shuffle=False,  # the pipeline shuffles
        )
    except RuntimeError as error:
        if "NaN or Inf loss" not in str(error):
            raise
        rows = session.run.read_history()
        last = f"epoch {rows[-1]['epoch'] + 1}" if rows else "no finished epoch"
        raise TrainingDiverged(
            f"training diverged: {error} The last good state ({last}) is kept in "
            f"{session.run.backup}; lower learning_rate and resume with "
            f"`dlsuite train {session.app.name} --resume {session.run.path}`"
        ) from None
    return history


def evaluate_model(session, verbose=1):
    """Metrics of the model on train, dev and test (inference mode)."""
    app, data = session.app, session.data
    _, global_batch = session.batch_size()
    results = {}
    for split, x, y in (("train", data.x_train, data.y_train),
                        ("dev", data.x_dev, data.y_dev),
                        ("test", data.x_test, data.y_test)):
        if len(x):
            pipeline = make_pipeline(app.to_inputs(x, y), global_batch)
            results[split] = session.model.evaluate(pipeline, verbose=1 if verbose else 0,
                                                    return_dict=True)
    _say(verbose, "metrics: " + "; ".join(
        f"{split} " + ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        for split, values in results.items()))
    return results


def finish(session, verbose=1):
    """Evaluate, save, export, check the export and write the report."""
    model = session.model
    model.save(session.run.best)
    metrics = {"evaluation": evaluate_model(session, verbose)}
    export_info = export_model(session, verbose=verbose)
    metrics["export"] = export_info
    app_metrics, sections = session.app.report(model, session.config, session.data, session.run)
    metrics.update(app_metrics)
    session.run.write_metrics(metrics)
    write_report(session, metrics, sections)
    _say(verbose, f"run directory: {session.run.path}\n"
         f"  report:      {session.run.report}\n"
         f"  export:      {session.run.export} (tf.saved_model.load)\n"
         f"  tensorboard: {session.run.tb}  ->  dlsuite tensorboard {session.run.path}")
    return metrics


def train(app_name, overrides=(), epochs=None, strategy="auto", precision_name="auto",
          run_dir=None, overwrite=False, resume=None, extra_callbacks=(), verbose=1):
    """`dlsuite train`: a new run, or ``resume=RUN_DIR`` to continue one."""
    if registry.get_app(app_name).is_study:
        return train_sweep(app_name, overrides, epochs, strategy, precision_name, run_dir,
                           overwrite, resume, verbose)
    if resume is not None:
        if overrides:
            raise UsageError("--set cannot change a resumed run's config (only --epochs can)")
        session = reopen(resume, app_name, epochs, strategy, verbose)
        build(session)
    else:
        session = start(app_name, overrides, epochs, strategy, precision_name,
                        run_dir, overwrite, verbose)
        build(session)
        record = session.run.read_record()
        record["initial_weights_sha256"] = weights_fingerprint(session.model)
        session.run.write_record(record)
    fit(session, extra_callbacks, verbose)
    metrics = finish(session, verbose)
    return session, metrics


def load_best(session):
    """Load the run's best model (safe mode: no arbitrary code)."""
    path = session.run.best
    if not path.exists():
        raise UsageError(f"{path} is missing; the run has no saved model yet")
    try:
        with session.strategy.scope():
            session.model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a bad archive.
        raise UsageError(
            f"cannot load {path}: {type(error).__name__}: {str(error).splitlines()[0][:200]}; "
            "the file is corrupt or not a dlsuite model (retrain, or --resume the run)"
        ) from None
    return session.model



def weights_fingerprint(model):
    """A hash of the model's weights (same seed and config -> same hash)."""
    import hashlib

    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()


def train_sweep(app_name, overrides=(), epochs=None, strategy="auto", precision_name="auto",
                run_dir=None, overwrite=False, resume=None, verbose=1):
    """Train each child run of a study app, then write the study's report."""
    if resume is not None:
        session = reopen(resume, app_name, epochs, strategy, verbose)
    else:
        session = start(app_name, overrides, epochs, strategy, precision_name,
                        run_dir, overwrite, verbose)
    runs = {}
    for label, child_app, child_overrides in session.app.sweep(session.config):
        child_dir = session.run.path / label
        _say(verbose, f"--- {session.app.name}: {label}")
        if resume is not None and (child_dir / "metrics.json").exists():
            child = reopen(child_dir, verbose=0)
            load_best(child)
            runs[label] = (child, _read_json(child.run.metrics))
            continue
        if resume is not None and (child_dir / "config.json").exists():
            runs[label] = train(child_app, resume=child_dir, strategy=strategy, verbose=verbose)
        else:
            runs[label] = train(child_app, child_overrides, strategy=strategy,
                                precision_name=session.policy, run_dir=child_dir, verbose=verbose)
    metrics, sections = session.app.summarize(runs, session.config, session.run)
    session.run.write_metrics(metrics)
    lines = [f"# {session.app.name} study report", ""] + list(sections)
    lines += ["", f"TensorBoard (one run per child): `dlsuite tensorboard {session.run.path}`", ""]
    session.run.report.write_text("\n".join(lines))
    _say(verbose, f"study directory: {session.run.path}\n  report: {session.run.report}\n"
         f"  tensorboard: dlsuite tensorboard {session.run.path}")
    return session, metrics


def _read_json(path):
    import json

    return json.loads(path.read_text())
