"""The contract every application fulfils.

An app is a small package under ``apps/`` with a config dataclass and an
``App`` subclass registered with ``@register_app("name")``. The runtime
(:mod:`dlsuite.apps.runtime.training`) does everything else: strategy, precision, run
directory, callbacks, ``fit``, evaluation, export, report. An app never
writes its own training loop.

Call order, for ``dlsuite train APP``::

    data = app.make_datasets(config)                 # numpy splits, seeded
    with strategy.scope():                           # policy already set
        app.prepare(config, data, run)               # evaluators, fitted once
        model = app.build_model(config, data)        # compiled keras.Model
    model.fit(app.train_inputs(data.train), validation_data=..., callbacks=
              runtime_callbacks + app.callbacks(config, data, run))
    app.export_endpoints(model, config, data)        # -> SavedModel
    app.report(model, config, data, run)             # -> metrics + markdown
"""

import dataclasses

import numpy as np

from dlsuite.apps.runtime.config import BaseConfig


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One named signature of the exported SavedModel.

    ``fn`` takes and returns tensors; it holds the pre- and post-processing a
    user would otherwise write (decoding uint8 images, softmax, NMS...).
    ``input_signature`` is a list of ``tf.TensorSpec``. ``example`` is a
    list of numpy arrays the runtime feeds both the live ``fn`` and the
    reloaded SavedModel to check they agree; its batch size should differ
    from the training batch size.
    """

    name: str
    fn: object
    input_signature: list
    example: list


class App:
    """Base class of every application. Subclasses override what they need."""

    name = None  # set by @register_app
    # The resolved config of the current run; the runtime sets it before it
    # calls any other method, so ``to_inputs`` and friends can read it.
    config = None
    config_class = BaseConfig
    description = ""
    # What early stopping and best.keras watch on the dev set.
    monitor = "val_loss"
    monitor_mode = "min"
    # A study app trains several child runs (see ``sweep``) instead of one model.
    is_study = False
    # Rows that are steps, not data (style transfer's image optimisation):
    # when True, every replica gets its own copy of each training row, one
    # row per replica per step, so one row is one step on 1 or N replicas.
    one_example_per_step = False
    # ``dlsuite predict RUN_DIR ARG...``: when True, an argument that is no
    # file is passed to ``predict_files`` as it is (a text to translate).
    predict_takes_text = False

    def default_config(self):
        return self.config_class()

    # -- data -------------------------------------------------------------
    def make_datasets(self, config):
        """Return an ``dlsuite.apps.data.DataSplits`` for this config."""
        raise NotImplementedError

    def open_run(self, run):
        """Called once the run directory is known (a new run, a resumed one,
        or one that ``evaluate``, ``export`` or ``report`` reopens; a
        worker's scratch directory), before any pipeline is built. An app
        that derives data worth keeping across commands caches it there
        (the R-CNN family's selective-search proposals). Default: nothing."""

    def prepare(self, config, data, run):
        """Fit or load what the app's evaluation needs before any model is
        built: the runtime's explicit step after the data is loaded and the
        run directory opened (for a new run, a resumed one, and ``evaluate``,
        ``export`` and ``report``), inside the strategy scope. An app that
        trains a helper model here (the image generators' reference
        classifier) seeds it from ``config.seed`` and keeps it in ``run``, so
        that a resumed run loads it instead of training it again. Hooks that
        return things (``callbacks``, ``export_endpoints``) must not do such
        work. Default: nothing."""

    def to_inputs(self, x, y):
        """Map one split's arrays to what ``model.fit`` takes per example.

        The default feeds ``(x, y)``; a generative app returns ``x`` alone.
        The runtime shuffles (train only), batches by the global batch size,
        caches and prefetches.
        """
        return (x, y)

    def pipeline(self, x, y, global_batch_size, training, epoch=None, replicas=1):
        """The ``tf.data`` pipeline of one split, in global batches.

        The default is the runtime's: ``to_inputs(x, y)`` batched; for
        training, in an order seeded by ``(config.seed, epoch)``, where
        ``epoch`` is the run's epoch variable, so that a resumed run sees
        the batches an uninterrupted one does
        (:func:`dlsuite.apps.runtime.pipeline.make_pipeline`). With
        ``one_example_per_step`` each training row is repeated once per
        replica, in order. An app whose examples are made from the split
        (windows of a text, P x K identity groups) overrides this; under a
        distribution strategy each replica receives a contiguous slice of
        ``global_batch_size / replicas`` examples of every batch.
        """
        from dlsuite.apps.runtime.pipeline import make_pipeline

        if training and self.one_example_per_step:
            x, y = np.repeat(x, replicas, axis=0), np.repeat(y, replicas, axis=0)
            return make_pipeline(self.to_inputs(x, y), global_batch_size)
        seed = self.config.seed if self.config is not None else 0
        return make_pipeline(self.to_inputs(x, y), global_batch_size, shuffle=training,
                             seed=seed, epoch=epoch if training else None)

    # -- model ------------------------------------------------------------
    def build_model(self, config, data):
        """Build and compile the model. Runs inside ``strategy.scope()``
        with the dtype policy already set."""
        raise NotImplementedError

    def callbacks(self, config, data, run):
        """Extra callbacks (image and metric loggers), beside the runtime's."""
        return []

    # -- export -----------------------------------------------------------
    def export_endpoints(self, model, config, data):
        """Return the ``Endpoint``s of the SavedModel. The first one is also
        exported as ``serving_default``."""
        raise NotImplementedError

    def predict_files(self, endpoints, paths):
        """Run the reloaded export on the user's files; return printable lines."""
        raise NotImplementedError(f"{self.name} has no file prediction")

    # -- sweeps ------------------------------------------------------------
    def sweep(self, config):
        """A study app returns ``[(label, app_name, overrides), ...]``: the
        runtime trains each as its own run in ``RUN_DIR/<label>/`` (same
        seed, so the same initial weights) and then calls ``summarize``.
        Ordinary apps return None."""
        return None

    def summarize(self, runs, config, run):
        """For a study: ``runs`` maps label -> (session, metrics) of each
        child; return ``(metrics, sections)`` for the study's report."""
        return {}, []

    # -- report -----------------------------------------------------------
    def report(self, model, config, data, run):
        """Return ``(metrics: dict, sections: list[str])`` for the run report:
        extra metrics for ``metrics.json`` and markdown sections for
        ``report.md`` (figures saved in ``run.path``)."""
        return {}, []


def batch_size_for_check(config_batch):
    """A batch size different from training's, for export checks."""
    return 3 if config_batch != 3 else 5


def as_float32(x):
    return np.asarray(x, dtype=np.float32)
