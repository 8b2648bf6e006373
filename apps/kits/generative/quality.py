"""Sample quality without downloaded models: a reference classifier trained
on the same data stands in for Inception.

* **Classifier Inception Score** (Salimans et al., 2016, with our
  classifier): ``IS = exp(mean_x KL(p(y|x) || p(y)))``, between 1 and the
  number of classes; high when each sample is confidently one class and the
  classes are balanced.
* **Frechet distance** (Heusel et al., 2017, FID with our classifier's
  penultimate features): ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``;
  lower is better, 0 for identical Gaussians.
* **Label accuracy** (conditional models): the share of samples the
  classifier assigns to the label they were generated for.
* **Class entropy**: the entropy of the classifier's predicted-class
  histogram over the samples, divided by ``log(num_classes)`` (1 = uniform);
  below ``collapse_threshold`` the samples have collapsed onto few classes and
  a warning is logged.

The classifier is trained once per run and cached in the run directory.
"""

import logging
import pathlib

import keras
import numpy as np
import scipy.linalg

from dlsuite.apps.runtime import atomic, safe_load

logger = logging.getLogger("dlsuite.quality")

CLASSIFIER_FILE = "reference_classifier.keras"


def build_reference_classifier(image_shape, num_classes, width=32):
    """A small float32 CNN: uint8 image -> class probabilities, with a
    ``features`` layer (penultimate) for the Frechet distance."""
    float32 = {"dtype": "float32"}  # whatever the run's policy
    images = keras.Input(image_shape, name="images")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale", **float32)(images)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name="conv_0",
                            **float32)(x)
    if min(image_shape[:2]) >= 16:
        x = keras.layers.MaxPooling2D(name="pool_0", **float32)(x)
    x = keras.layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv_1",
                            **float32)(x)
    x = keras.layers.MaxPooling2D(name="pool_1", **float32)(x)
    x = keras.layers.Flatten(name="flatten", **float32)(x)
    features = keras.layers.Dense(64, activation="relu", name="features", **float32)(x)
    probabilities = keras.layers.Dense(num_classes, activation="softmax",
                                       name="probabilities", **float32)(features)
    return keras.Model(images, probabilities, name="reference_classifier")


def reference_classifier(data, run_path, epochs=3, batch_size=64, seed=0, verbose=0):
    """Load the run's cached classifier, or train it on ``data`` and cache it.

    Returns ``(classifier, test_accuracy)``; the accuracy is measured on the
    test split (the dev split if there is no test split).
    """
    path = pathlib.Path(run_path) / CLASSIFIER_FILE
    x_eval, y_eval = (data.x_test, data.y_test) if len(data.x_test) else (data.x_dev, data.y_dev)
    if path.exists():
        classifier = safe_load.load_model(path)
    else:
        keras.utils.set_random_seed(seed)
        classifier = build_reference_classifier(data.input_shape, data.num_classes)
        classifier.compile(optimizer=keras.optimizers.Adam(1e-3),
                           loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        classifier.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=epochs,
                       verbose=verbose)
        with atomic.replacing(path) as partial:
            classifier.save(partial)
    accuracy = float(np.mean(np.argmax(classifier.predict(x_eval, verbose=0), 1) == y_eval))
    return classifier, accuracy


def feature_model(classifier):
    """(probabilities, features) of the classifier in one call."""
    return keras.Model(classifier.inputs,
                       [classifier.output, classifier.get_layer("features").output])


def inception_score(probabilities, eps=1e-12):
    """``exp(mean KL(p(y|x) || p(y)))`` of an ``(N, K)`` probability array."""
    p = np.asarray(probabilities, dtype=np.float64)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two ``(N, D)`` feature sets."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.cov(a, rowvar=False) + 1e-6 * np.eye(a.shape[1])
    cov_b = np.cov(b, rowvar=False) + 1e-6 * np.eye(b.shape[1])
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = np.real(root)
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root)
    return float(max(value, 0.0))


def class_entropy(probabilities, num_classes):
    """Entropy of the predicted-class histogram / log(K), in [0, 1]."""
    predicted = np.argmax(probabilities, axis=1)
    counts = np.bincount(predicted, minlength=num_classes).astype(np.float64)
    share = counts / counts.sum()
    share = share[share > 0]
    return float(max(0.0, -(share * np.log(share)).sum() / np.log(num_classes)))


def measure(extractor, samples, real_features, num_classes, labels=None):
    """Every quality number of uint8 ``samples`` (and their conditioning labels)."""
    probabilities, features = (np.asarray(v) for v in extractor.predict(samples, verbose=0))
    result = {
        "inception_score": inception_score(probabilities),
        "frechet_distance": frechet_distance(real_features, features),
        "class_entropy": class_entropy(probabilities, num_classes),
    }
    if labels is not None:
        result["label_accuracy"] = float(np.mean(np.argmax(probabilities, 1) == labels))
    return result


class GenerativeQuality(keras.callbacks.Callback):
    """Log sample quality every ``every`` epochs into the epoch logs.

    ``sample(model)`` returns ``(uint8 images, labels or None)``. The values
    land in the logs (so TensorBoard, the history and checkpoint monitors see
    them); a class entropy under ``collapse_threshold`` logs a warning and is
    recorded in ``self.collapses``.
    """

    def __init__(self, sample, classifier, real_images, num_classes, every=1,
                 collapse_threshold=0.5):
        super().__init__()
        self.sample = sample
        self.extractor = feature_model(classifier)
        self.real_features = np.asarray(self.extractor.predict(real_images, verbose=0)[1])
        self.num_classes = num_classes
        self.every = every
        self.collapse_threshold = collapse_threshold
        self.history = []
        self.collapses = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        images, labels = self.sample(self.model)
        values = measure(self.extractor, images, self.real_features, self.num_classes, labels)
        self.history.append({"epoch": epoch, **values})
        if logs is not None:
            logs.update(values)
        if values["class_entropy"] < self.collapse_threshold:
            message = (f"mode collapse warning: epoch {epoch + 1} samples' class entropy "
                       f"{values['class_entropy']:.2f} < {self.collapse_threshold} "
                       "(samples fall into few classes)")
            self.collapses.append(message)
            logger.warning(message)


class SampleQualityApp:
    """Mixin of the image-generating apps: sample quality measured with a
    reference classifier.

    The classifier is fitted in the runtime's ``prepare`` step (seeded by
    ``config.seed``; loaded from the run when it is there), never inside
    ``callbacks()``; ``quality_callback`` then only builds the callback.
    """

    reference = None  # (classifier, test accuracy) once prepared
    quality = None  # the GenerativeQuality callback of the current fit

    def prepare(self, config, data, run):
        self.reference = None
        self.quality = None
        if config.quality:
            self.reference = reference_classifier(data, run.path, config.classifier_epochs,
                                                  seed=config.seed)

    @property
    def classifier_accuracy(self):
        return self.reference[1] if self.reference else None

    def quality_callback(self, sample, config, data, real_images):
        """The ``GenerativeQuality`` callback of this fit (None without
        ``config.quality``); ``report`` reads it back as ``self.quality``."""
        if self.reference is None:
            return None
        self.quality = GenerativeQuality(sample, self.reference[0], real_images, data.num_classes,
                                         collapse_threshold=config.collapse_threshold)
        return self.quality
