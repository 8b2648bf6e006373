"""The one training path every app goes through.

``train()`` resolves the config, strategy and precision, loads the data,
runs the app's ``prepare`` step, builds the model in the strategy scope,
fits it with the always-on callbacks, evaluates it, exports it, checks the
export and writes the report; ``train(..., resume=RUN_DIR)`` continues a
run from its backup. :func:`reopen` resolves an existing run, which
:mod:`dlsuite.apps.runtime.commands` uses for ``evaluate``, ``export``,
``report`` and ``predict``. Apps supply only what differs
(:class:`dlsuite.apps.runtime.app.App`).
"""

import contextlib
import dataclasses
import pathlib

import keras
import tensorflow as tf

from dlsuite.apps import registry
from dlsuite.apps.runtime import config as config_lib
from dlsuite.apps.runtime import atomic, distribute, precision, safe_load
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.export import export_model
from dlsuite.apps.runtime.optim import per_replica_batch_size
from dlsuite.apps.runtime.report import write_report
from dlsuite.apps.runtime.run_callbacks import standard_callbacks
from dlsuite.apps.runtime.run_dir import RunDir
from dlsuite.callbacks import CorruptBackup


class TrainingDiverged(UsageError):
    """The loss became NaN or Inf. Exit status 3; the backup is kept."""

    exit_code = 3


@dataclasses.dataclass
class Session:
    """Everything resolved for one run.

    ``run`` is where this process writes; ``chief_run`` is the run a user
    sees. They are the same directory except on a non-chief worker of a
    multi-worker run, which writes to a scratch directory and restores from
    the chief's backup (``chief_run.backup``).
    """

    app: object
    config: object
    run: RunDir
    strategy: object
    policy: str
    data: object = None
    model: object = None
    chief: bool = True
    chief_run: RunDir = None
    resuming: bool = False
    # The epoch the pipeline's shuffle is seeded with (EpochCounter sets it).
    epoch: object = None
    _held: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)

    def __post_init__(self):
        if self.epoch is None:
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    def batch_size(self):
        """(per-replica, global) batch sizes for this run."""
        if self.app.one_example_per_step:
            return 1, self.replicas
        per_replica = per_replica_batch_size(
            self.config, len(self.data.x_train), self.replicas
        )
        return per_replica, per_replica * self.replicas

    def hold_lock(self):
        """Lock the run against a second writer until :meth:`release`."""
        self._held.enter_context(self.run.locked())

    def release(self):
        """Drop the lock; remove a worker's scratch directory."""
        self._held.close()
        self.run.remove_if_temporary()


def _say(verbose, *parts):
    if verbose:
        print(*parts, flush=True)


def _make_strategy(name, run_dir):
    strategy = distribute.make_strategy(name)
    if name == "multi_worker" and run_dir is None:
        raise UsageError(
            "--strategy multi_worker needs --run-dir (or --resume) with the same path on every "
            "worker, on a filesystem they share: every worker restores from the chief's backup "
            "there; `dlsuite launch` passes one for you")
    return strategy, distribute.is_chief(strategy)


def start(app_name, overrides=(), epochs=None, strategy="auto", precision_name="auto",
          run_dir=None, overwrite=False, verbose=1):
    """Resolve a new run: app, config, strategy, precision, run directory, data.

    The chief creates and locks the run directory and writes its record; a
    non-chief worker gets a scratch directory.
    """
    app = registry.get_app(app_name)
    overrides = list(overrides)
    if epochs is not None:
        overrides.append(f"epochs={epochs}")
    config = config_lib.apply_overrides(app.default_config(), overrides)
    app.config = config
    strategy_object, chief = _make_strategy(strategy, run_dir)
    session = Session(
        app=app,
        config=config,
        run=None,
        strategy=strategy_object,
        policy=precision.set_precision(precision_name),
        chief=chief,
    )
    session.data = _load_data(session, verbose and chief)
    if chief:
        session.run = RunDir.create(app.name, run_dir, overwrite=overwrite)
        session.chief_run = session.run
        session.hold_lock()
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
    else:
        session.run = RunDir.scratch(app.name)
        session.chief_run = RunDir(run_dir)
    app.open_run(session.run)
    prepare(session)
    return session


def reopen(run_dir, app_name=None, epochs=None, strategy="auto", verbose=1, lock=False):
    """Resolve an existing run from its record (for --resume, evaluate, export).

    ``lock=True`` holds the run's lock (for commands that write it) until
    ``session.release()``.
    """
    opened = RunDir.open(run_dir)
    record = opened.read_record()
    if app_name is not None and record["app"] != app_name:
        raise UsageError(
            f"{opened.path} is a run of {record['app']!r}, not {app_name!r}; "
            f"use `dlsuite train {record['app']} --resume {opened.path}`"
        )
    app = registry.get_app(record["app"])
    config = config_lib.config_from_dict(app.config_class, record["config"])
    if epochs is not None:
        config = config_lib.apply_overrides(config, [f"epochs={epochs}"])
    app.config = config
    strategy_object, chief = _make_strategy(strategy, run_dir)
    session = Session(
        app=app,
        config=config,
        run=opened if chief else RunDir.scratch(app.name),
        strategy=strategy_object,
        policy=precision.set_precision(record.get("precision", "float32")),
        chief=chief,
        chief_run=opened,
        resuming=True,
    )
    if chief and lock:
        session.hold_lock()
    app.open_run(session.run)
    if chief and epochs is not None:
        record["config"] = config.to_dict()
        opened.write_record(record)
    session.data = _load_data(session, verbose and chief)
    prepare(session)
    return session


def prepare(session):
    """The app's explicit step before the model (``App.prepare``): its
    evaluators fitted or loaded from the run, in the strategy scope."""
    with session.strategy.scope():
        session.app.prepare(session.config, session.data, session.run)


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
    if distribute.is_multi_worker(session.strategy) and model.steps_per_execution > 1:
        # Keras's multi-step loop (a tf.while_loop over get_next_as_optional)
        # fails under MultiWorkerMirroredStrategy ("You must feed a value for
        # placeholder tensor 'while/cond/Placeholder'"): one step per call.
        model.steps_per_execution = 1
    session.model = model
    return model


def datasets(session):
    """(train, dev) pipelines at the run's global batch size."""
    app, data = session.app, session.data
    _, global_batch = session.batch_size()
    train = app.pipeline(data.x_train, data.y_train, global_batch, training=True,
                         epoch=session.epoch, replicas=session.replicas)
    dev = None
    if len(data.x_dev):
        dev = app.pipeline(data.x_dev, data.y_dev, global_batch, training=False)
    return train, dev


def fit(session, extra_callbacks=(), verbose=1):
    """Fit the session's model; resumes from the backup if there is one."""
    model = session.model or build(session)
    train, dev = datasets(session)
    app_callbacks = session.app.callbacks(session.config, session.data, session.run)
    talk = verbose and session.chief
    callbacks = standard_callbacks(session, dev is not None, app_callbacks,
                                   log=lambda text: _say(talk, text), verbose=talk)
    callbacks += list(extra_callbacks)
    per_replica, global_batch = session.batch_size()
    _say(talk, f"training {session.app.name}: {session.config.epochs} epochs, batch "
         f"{per_replica} x {session.replicas} replica(s) = {global_batch}, "
         f"precision {session.policy}, run {session.run.path}")
    try:
        history = model.fit(
            train, validation_data=dev, epochs=session.config.epochs,
            callbacks=callbacks, verbose=1 if talk else 0,
            shuffle=False,  # the pipeline shuffles
        )
    except CorruptBackup as error:
        raise UsageError(str(error)) from None
    except RuntimeError as error:
        if "NaN or Inf loss" not in str(error):
            raise
        rows = session.chief_run.read_history()
        last = f"epoch {rows[-1]['epoch'] + 1}" if rows else "no finished epoch"
        raise TrainingDiverged(
            f"training diverged: {error} The last good state ({last}) is kept in "
            f"{session.chief_run.backup}; lower learning_rate and resume with "
            f"`dlsuite train {session.app.name} --resume {session.chief_run.path}`"
        ) from None
    return history


def to_local_model(session):
    """After a multi-worker ``fit``: the trained state (weights, optimizer
    state, random-generator states) in a model built on the default
    strategy, so that evaluating, exporting and reporting on the chief make
    no collective call the other workers would have to join."""
    if not distribute.is_multi_worker(session.strategy):
        return session.model
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        state = f"{scratch}/trained.weights.h5"
        session.model.save_weights(state)
        session.strategy = tf.distribute.get_strategy()
        session.model = None
        build(session).load_weights(state)
    return session.model


def evaluate_model(session, verbose=1):
    """Metrics of the model on train, dev and test (inference mode)."""
    app, data = session.app, session.data
    _, global_batch = session.batch_size()
    results = {}
    for split, x, y in (("train", data.x_train, data.y_train),
                        ("dev", data.x_dev, data.y_dev),
                        ("test", data.x_test, data.y_test)):
        if len(x):
            pipeline = app.pipeline(x, y, global_batch, training=False)
            results[split] = session.model.evaluate(pipeline, verbose=1 if verbose else 0,
                                                    return_dict=True)
    _say(verbose, "metrics: " + "; ".join(
        f"{split} " + ", ".join(f"{k}={v:.4f}" for k, v in values.items())
        for split, values in results.items()))
    return results


def save_best(session):
    """``best.keras`` from the session's model, written atomically."""
    with atomic.replacing(session.run.best) as partial:
        session.model.save(partial)


def finish(session, verbose=1):
    """Evaluate, save, export, check the export and write the report."""
    model = session.model
    save_best(session)
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


def existing_run_to_resume(app_name, overrides, epochs, run_dir):
    """For ``--resume-if-exists``: ``run_dir`` if it already holds this very
    run (same app and config), None if it holds no run; a different run
    there is an error. A cluster manager that restarts a failed worker
    reruns the same command, which then continues the run."""
    if run_dir is None:
        raise UsageError("--resume-if-exists needs --run-dir")
    if not (pathlib.Path(run_dir) / "config.json").exists():
        return None
    record = RunDir.open(run_dir).read_record()
    app = registry.get_app(app_name)
    wanted = list(overrides) + ([f"epochs={epochs}"] if epochs is not None else [])
    config = config_lib.apply_overrides(app.default_config(), wanted)
    recorded = config_lib.config_from_dict(app.config_class, record["config"])
    if record["app"] != app_name or config != recorded:
        raise UsageError(f"{run_dir} holds another run ({record['app']} with another config); "
                         "choose another --run-dir, or --resume it explicitly")
    return run_dir


def train(app_name, overrides=(), epochs=None, strategy="auto", precision_name="auto",
          run_dir=None, overwrite=False, resume=None, extra_callbacks=(), verbose=1,
          resume_if_exists=False):
    """`dlsuite train`: a new run, or ``resume=RUN_DIR`` to continue one
    (``resume_if_exists``: continue ``run_dir`` if it holds this run).

    Returns ``(session, metrics)``; a non-chief worker of a multi-worker run
    returns empty metrics once training ends (the chief evaluates, exports
    and reports).
    """
    if resume_if_exists and overwrite:
        raise UsageError("--resume-if-exists and --overwrite contradict each other; pick one")
    if resume_if_exists and resume is None:
        resume = existing_run_to_resume(app_name, overrides, epochs, run_dir)
        if resume is not None:
            overrides, epochs = (), None
    if registry.get_app(app_name).is_study:
        return train_sweep(app_name, overrides, epochs, strategy, precision_name, run_dir,
                           overwrite, resume, verbose)
    if resume is not None:
        if overrides:
            raise UsageError("--set cannot change a resumed run's config (only --epochs can)")
        session = reopen(resume, app_name, epochs, strategy, verbose, lock=True)
    else:
        session = start(app_name, overrides, epochs, strategy, precision_name,
                        run_dir, overwrite, verbose)
    try:
        build(session)
        if resume is None and session.chief:
            record = session.run.read_record()
            record["initial_weights_sha256"] = weights_fingerprint(session.model)
            session.run.write_record(record)
        fit(session, extra_callbacks, verbose)
        if not session.chief:
            return session, {}
        to_local_model(session)
        metrics = finish(session, verbose)
    finally:
        session.release()
    return session, metrics


def load_best(session):
    """Load the run's best model (refusing hostile files; safe mode)."""
    path = session.run.best
    if not path.exists():
        raise UsageError(f"{path} is missing; the run has no saved model yet")
    with session.strategy.scope():
        session.model = safe_load.load_model(path)
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
        session = reopen(resume, app_name, epochs, strategy, verbose, lock=True)
    else:
        session = start(app_name, overrides, epochs, strategy, precision_name,
                        run_dir, overwrite, verbose)
    try:
        runs = {}
        for label, child_app, child_overrides in session.app.sweep(session.config):
            # Workers train each child beside the chief's, restoring from it.
            child_dir = session.chief_run.path / label
            _say(verbose and session.chief, f"--- {session.app.name}: {label}")
            if resume is not None and (child_dir / "metrics.json").exists():
                if session.chief:
                    child = reopen(child_dir, verbose=0)
                    load_best(child)
                    runs[label] = (child, _read_json(child.run.metrics))
                continue
            if resume is not None and (child_dir / "config.json").exists():
                runs[label] = train(child_app, resume=child_dir, strategy=strategy,
                                    verbose=verbose)
            else:
                runs[label] = train(child_app, child_overrides, strategy=strategy,
                                    precision_name=session.policy, run_dir=child_dir,
                                    verbose=verbose)
        if not session.chief:
            return session, {}
        metrics, sections = session.app.summarize(runs, session.config, session.run)
        session.run.write_metrics(metrics)
        lines = [f"# {session.app.name} study report", ""] + list(sections)
        lines += ["", f"TensorBoard (one run per child): `dlsuite tensorboard "
                  f"{session.run.path}`", ""]
        atomic.write_text(session.run.report, "\n".join(lines))
    finally:
        session.release()
    _say(verbose, f"study directory: {session.run.path}\n  report: {session.run.report}\n"
         f"  tensorboard: dlsuite tensorboard {session.run.path}")
    return session, metrics


def _read_json(path):
    import json

    return json.loads(path.read_text())
