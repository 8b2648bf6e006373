"""What every classification app shares: label encoding, the classifier
head's loss and metrics, and the ML-strategy report.

The report gives the single-number metric (F1 for binary tasks, macro-F1
for multiclass) beside accuracy, the satisficing latency check (from the
export), bias and variance against ``human_error``, error analysis of the
dev set grouped by true -> predicted class, and a confusion matrix.
"""

import keras
import numpy as np
import sklearn.metrics

from dlsuite.apps.runtime.app import App
from dlsuite.apps.runtime.figures import pyplot as plt, save_figure
from dlsuite.apps.runtime.optim import compile_options, make_optimizer
from dlsuite.callbacks import BiasVarianceMonitor, ErrorAnalysisLogger, bias_variance, error_groups
from dlsuite.callbacks.error_analysis import markdown_table, predicted_classes


def output_units(output, num_classes):
    """One sigmoid unit for a binary task, else one unit per class."""
    return 1 if output == "sigmoid" and num_classes == 2 else num_classes


def encode_labels(y, output, num_classes):
    """Integer labels -> what the head is trained against (float32)."""
    y = np.asarray(y).reshape(-1)
    if output_units(output, num_classes) == 1:
        return y.astype("float32").reshape(-1, 1)
    return keras.utils.to_categorical(y, num_classes).astype("float32")


def compile_classifier(model, config, output, num_classes):
    """Compile with the loss and metrics that fit the head."""
    units = output_units(output, num_classes)
    if units == 1:
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"),
                   keras.metrics.F1Score(average="micro", threshold=0.5, name="f1")]
    else:
        loss = (keras.losses.CategoricalCrossentropy() if output == "softmax"
                else keras.losses.BinaryCrossentropy())
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy"),
                   keras.metrics.F1Score(average="macro", name="f1")]
    if getattr(config, "loss", "crossentropy") == "mse":
        loss = keras.losses.MeanSquaredError()
    model.compile(optimizer=make_optimizer(config), loss=loss, metrics=metrics,
                  **compile_options(config))
    return model


def single_number_metric(y_true, y_pred, num_classes):
    """F1 of the positive class for binary tasks, macro-F1 otherwise."""
    if num_classes == 2:
        return float(sklearn.metrics.f1_score(y_true, y_pred, average="binary", zero_division=0))
    return float(sklearn.metrics.f1_score(y_true, y_pred, average="macro", zero_division=0,
                                          labels=list(range(num_classes))))


def confusion_figure(y_true, y_pred, class_names, path):
    matrix = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(len(class_names)))
    size = max(4, 0.5 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    ticks = range(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=90)
    axis.set_yticks(ticks, class_names)
    for (row, col), count in np.ndenumerate(matrix):
        axis.text(col, row, int(count), ha="center", va="center", fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    figure.tight_layout()
    save_figure(figure, path)
    return matrix


class ClassificationApp(App):
    """Base of apps whose model maps an input to class probabilities.

    Subclasses set ``config_class`` (with an ``output`` field: "softmax" or
    "sigmoid") and implement ``load_data`` (the data set; ``make_datasets``
    calls it and records its classes), ``build_model`` (calling
    ``compile_classifier``) and ``export_endpoints``.
    """

    monitor = "val_loss"

    def output(self, config):
        return getattr(config, "output", "softmax")

    def to_inputs(self, x, y):
        return (x, encode_labels(y, self.output(self.config), self._num_classes(y)))

    def _num_classes(self, y):
        return self._classes if hasattr(self, "_classes") else int(np.max(y)) + 1

    def make_datasets(self, config):
        data = self.load_data(config)
        self._classes = data.num_classes
        return data

    def load_data(self, config):
        raise NotImplementedError

    def callbacks(self, config, data, run):
        found = []
        if config.human_error is not None:
            found.append(BiasVarianceMonitor(config.human_error))
        if len(data.x_dev):
            found.append(ErrorAnalysisLogger(data.x_dev, data.y_dev, data.class_names, run.tb))
        return found

    def report(self, model, config, data, run):
        quality, sections = {}, []
        predictions = {}
        for split, x, y in (("train", data.x_train, data.y_train), ("dev", data.x_dev, data.y_dev),
                            ("test", data.x_test, data.y_test)):
            if len(x):
                predicted = predicted_classes(model.predict(x, batch_size=256, verbose=0))
                predictions[split] = predicted
                quality[split] = {
                    "accuracy": float(np.mean(predicted == y)),
                    "error": float(np.mean(predicted != y)),
                    "f1": single_number_metric(y, predicted, data.num_classes),
                }
        metric_name = "F1" if data.num_classes == 2 else "macro-F1"
        lines = ["## ML strategy", "",
                 f"Single-number metric: **{metric_name}** (accuracy beside it).", "",
                 "| split | accuracy | error | " + metric_name + " |", "|---|---|---|---|"]
        for split, values in quality.items():
            lines.append(f"| {split} | {values['accuracy']:.4f} | {values['error']:.4f} "
                         f"| {values['f1']:.4f} |")
        sections.append("\n".join(lines) + "\n")
        metrics = {"quality": quality, "single_number_metric": metric_name}

        if config.human_error is not None and "dev" in quality:
            analysis = bias_variance(quality["train"]["error"], quality["dev"]["error"],
                                     config.human_error)
            metrics["bias_variance"] = analysis
            sections.append(
                "### Bias and variance\n\n"
                "| human-level error | train error | dev error | avoidable bias | variance |\n"
                "|---|---|---|---|---|\n"
                f"| {analysis['human_error']:.4f} | {analysis['train_error']:.4f} | "
                f"{analysis['dev_error']:.4f} | {analysis['avoidable_bias']:.4f} | "
                f"{analysis['variance']:.4f} |\n\nVerdict: {analysis['verdict']}.\n")

        if "dev" in predictions:
            groups = error_groups(data.y_dev, predictions["dev"], data.class_names)
            metrics["error_analysis"] = [
                {k: v for k, v in group.items() if k != "indices"} for group in groups]
            sections.append("### Error analysis (dev set)\n\n"
                            + markdown_table(groups, len(data.y_dev)) + "\n")
            self.error_examples(data, groups, run, sections)
        split = "test" if "test" in predictions else "dev"
        if split in predictions:
            y_true = data.y_test if split == "test" else data.y_dev
            confusion_figure(y_true, predictions[split], data.class_names,
                             run.path / "confusion_matrix.png")
            sections.append(f"### Confusion matrix ({split})\n\n![confusion](confusion_matrix.png)\n")
        return metrics, sections

    def error_examples(self, data, groups, run, sections):
        """Hook for image apps: add a grid of misclassified dev images."""
