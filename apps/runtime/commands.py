"""What the CLI's verbs do with a run directory, beside ``train``."""

import contextlib
import os

import tensorflow as tf

from dlsuite.apps import registry
from dlsuite.apps.runtime import config as config_lib
from dlsuite.apps.runtime import atomic, signature_inputs, training
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.export import export_model
from dlsuite.apps.runtime.report import write_report
from dlsuite.apps.runtime.run_dir import RunDir

train = training.train


@contextlib.contextmanager
def _reopened_with_model(run_dir, verbose=1):
    """The run with its best model, locked against another writer."""
    session = training.reopen(run_dir, verbose=verbose, lock=True)
    try:
        training.load_best(session)
        yield session
    finally:
        session.release()


def evaluate(run_dir, verbose=1):
    """Evaluate the best model on train, dev and test; update metrics.json."""
    with _reopened_with_model(run_dir, verbose) as session:
        results = training.evaluate_model(session, verbose)
        metrics = _read_metrics(session.run)
        metrics["evaluation"] = results
        session.run.write_metrics(metrics)
    return results


def export(run_dir, verbose=1):
    """Re-export the best model and check the export against it."""
    with _reopened_with_model(run_dir, verbose) as session:
        info = export_model(session, verbose)
        metrics = _read_metrics(session.run)
        metrics["export"] = info
        session.run.write_metrics(metrics)
    return info


def report(run_dir, verbose=1):
    """Rewrite report.md (and its figures) from the best model."""
    with _reopened_with_model(run_dir, verbose) as session:
        metrics = _read_metrics(session.run)
        metrics["evaluation"] = training.evaluate_model(session, verbose)
        app_metrics, sections = session.app.report(session.model, session.config,
                                                   session.data, session.run)
        metrics.update(app_metrics)
        session.run.write_metrics(metrics)
        path = write_report(session, metrics, sections)
    if verbose:
        print(f"report: {path}")
    return path


def predict(run_dir, files):
    """Run the run's exported SavedModel on the user's files."""
    run = RunDir.open(run_dir)
    record = run.read_record()
    app = registry.get_app(record["app"])
    app.config = config_lib.config_from_dict(app.config_class, record["config"])
    atomic.recover_dir(run.export)
    if not (run.export / "saved_model.pb").exists():
        raise UsageError(f"{run.export} holds no SavedModel; run `dlsuite export {run.path}`")
    missing = [path for path in files if not os.path.isfile(path)]
    if missing and not app.predict_takes_text:
        raise UsageError(f"no such file: {', '.join(missing)}")
    try:
        loaded = tf.saved_model.load(str(run.export))
    except Exception as error:  # TensorFlow raises many types for a bad SavedModel.
        raise UsageError(f"cannot load the export {run.export} ({type(error).__name__}: "
                         f"{signature_inputs.explain(error)}); write it again with "
                         f"`dlsuite export {run.path}`") from None
    try:
        return app.predict_files(loaded, files)
    except tf.errors.InvalidArgumentError as error:
        raise UsageError(signature_inputs.explain(error)) from None


def _read_metrics(run):
    import json

    if run.metrics.exists():
        try:
            return json.loads(run.metrics.read_text())
        except ValueError:
            pass
    return {}
