"""What the CLI's verbs do with a run directory, beside ``train``."""

import os

import tensorflow as tf

from apps import registry
from apps.runtime import config as config_lib
from apps.runtime import training
from apps.runtime.errors import UsageError
from apps.runtime.export import export_model
from apps.runtime.report import write_report
from apps.runtime.run_dir import RunDir

train = training.train


def _reopen_with_model(run_dir, verbose=1):
    session = training.reopen(run_dir, verbose=verbose)
    training.load_best(session)
    return session


def evaluate(run_dir, verbose=1):
    """Evaluate the best model on train, dev and test; update metrics.json."""
    session = _reopen_with_model(run_dir, verbose)
    results = training.evaluate_model(session, verbose)
    metrics = _read_metrics(session.run)
    metrics["evaluation"] = results
    session.run.write_metrics(metrics)
    return results


def export(run_dir, verbose=1):
    """Re-export the best model and check the export against it."""
    session = _reopen_with_model(run_dir, verbose)
    info = export_model(session, verbose)
    metrics = _read_metrics(session.run)
    metrics["export"] = info
    session.run.write_metrics(metrics)
    return info


def report(run_dir, verbose=1):
    """Rewrite report.md (and its figures) from the best model."""
    session = _reopen_with_model(run_dir, verbose)
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
    if not (run.export / "saved_model.pb").exists():
        raise UsageError(f"{run.export} holds no SavedModel; run `dlsuite export {run.path}`")
    missing = [path for path in files if not os.path.isfile(path)]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    return app.predict_files(tf.saved_model.load(str(run.export)), files)


def _read_metrics(run):
    import json

    if run.metrics.exists():
        try:
            return json.loads(run.metrics.read_text())
        except ValueError:
            pass
    return {}
