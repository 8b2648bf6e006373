"""``face``: face verification with a Siamese embedding and the triplet loss.

``dlsuite train face`` trains an embedding network (a ``cnn`` backbone,
pooling, a dense layer, unit norm; :mod:`dlsuite.apps.face.model`) with
:class:`dlsuite.losses.TripletLoss` through the runtime's ordinary ``model.fit``, on
P x K batches (K images of each of P identities, :mod:`dlsuite.apps.face.pipeline`).
Verification and identification are measured on identities never seen in
training (:mod:`dlsuite.apps.data.identities`): one-shot learning. No labelled face
set installs offline, so by default the identities are MNIST digits (4 of
the 10 held out); ``--set dataset=images data_dir=DIR`` takes an
identity-per-folder tree (the LFW layout), faces detected, aligned and
cropped with MTCNN when ``mtcnn`` is installed.

Under ``--strategy mirrored`` each replica receives one P x K block of every
global batch and mines its own triplets; the loss mines within blocks of P x
K examples whatever the replica count, so one replica and N replicas take
the same step on the same global batch (tested with the LeNet-5 backbone).
Backbones with batch normalisation (the ResNets) normalise each replica's
block with its own statistics, as unsynchronised batch norm always does.

After training, the distance threshold is calibrated on dev pairs (best
accuracy) and applied to test pairs; the report gives accuracy, ROC AUC and
the equal-error rate, one-shot N-way identification, the ROC curve, the
distance histograms, the worst false accepts and false rejects, and a
collapse check. The export has ``embed``, ``verify`` (threshold inside),
``identify`` (against any gallery) and ``who_is_it`` (against a built-in
one-shot gallery of the test identities). ``dlsuite predict RUN_DIR a.png
b.png`` says same or different, with the distance and the threshold; with
one file (or three or more) it says who each is.
"""

import dataclasses
import typing

import numpy as np
import tensorflow as tf

from dlsuite.apps.kits.vision import read_image
from dlsuite.apps.kits.vision.architectures import ARCHITECTURES
from dlsuite.apps.data import faces
from dlsuite.apps.data.identities import load_identities, transformed_identities
from dlsuite.apps.face import verification
from dlsuite.apps.face.export import face_endpoints
from dlsuite.apps.face.model import build_embedding_model, compile_embedding_model
from dlsuite.apps.face.monitor import VerificationMonitor
from dlsuite.apps.face.pipeline import identity_batches
from dlsuite.apps.registry import register_app
from dlsuite.apps.runtime.app import App, batch_size_for_check
from dlsuite.apps.runtime.config import BaseConfig, require_fraction, require_positive
from dlsuite.apps.errors import UsageError
from dlsuite.apps.runtime.signature_inputs import explain
from dlsuite.callbacks import EmbeddingProjector, TripletMonitor
from dlsuite.losses.pairwise_distances import DISTANCES
from dlsuite.losses.triplet_loss import MINING

DATASETS = ("mnist5k", "fashion_mnist", "digits", "images")
DEFAULT_IDENTITIES, DEFAULT_EXAMPLES = 12, 8


@dataclasses.dataclass(frozen=True)
class FaceConfig(BaseConfig):
    """The face app's settings; ``--set key=value`` changes any of them.

    ``batch_size`` (per replica) is not set directly: it is
    ``identities_per_batch x examples_per_identity``, one P x K block.
    """

    dataset: typing.Literal[DATASETS] = "mnist5k"
    # images: crop faces with MTCNN ("auto": when mtcnn is installed).
    detect_faces: typing.Literal["auto", "on", "off"] = "auto"
    # Resize to image_size x image_size (0: the set's own; 96 for detected faces).
    image_size: int = 0
    limit: int | None = None
    # Fraction of identities never seen in training (dev and test verify them).
    unseen_fraction: float = 0.4
    # More training identities: each one turned by 90, 180, 270 degrees
    # ("rotations") and mirrored too ("rotations_flips"), as few-shot
    # learners did on Omniglot. "auto": rotations_flips for the digit sets,
    # rotations for Fashion-MNIST (a mirrored garment is the same garment),
    # none for your own images (a face upside down is no new person).
    extra_identities: typing.Literal["auto", "none", "rotations", "rotations_flips"] = "auto"
    backbone: typing.Literal[ARCHITECTURES] = "resnet18"
    width: float = 0.25
    embedding_dim: int = 64
    margin: float = 0.2
    mining: typing.Literal[MINING] = "semi_hard"
    distance: typing.Literal[DISTANCES] = "squared_l2"
    # P x K batches: K images of each of P identities per replica.
    identities_per_batch: int = DEFAULT_IDENTITIES
    examples_per_identity: int = DEFAULT_EXAMPLES
    batch_size: int = DEFAULT_IDENTITIES * DEFAULT_EXAMPLES
    # Random turns and zooms of each training image (Keras's preprocessing
    # layers, in training only). "auto": on for every set, the digit sets
    # too (unlike the cnn app): with a few dozen training identities the
    # embedding overfits them, and augmenting raised unseen-digit ROC AUC
    # from 0.92 to 0.93-0.95 (README.md, "What face reached").
    augment: typing.Literal["auto", "on", "off"] = "auto"
    # Horizontal flips; never where mirrored copies are identities of their
    # own (extra_identities=rotations_flips): see augmentation().
    flip: bool = True
    rotation: float = 0.04
    zoom: float = 0.15
    contrast: float = 0.0
    # Pairs (half same, half different) drawn from dev and from test.
    verification_pairs: int = 6000
    # Random one-shot galleries the identification accuracy averages over.
    identification_trials: int = 10
    # Embeddings closer than this everywhere have collapsed.
    collapse_radius: float = 1e-3
    epochs: int = 30

    def __post_init__(self):
        block = self.identities_per_batch * self.examples_per_identity
        # batch_size follows P x K; only an explicit other value is refused
        # (the class default is what a replaced P or K leaves behind).
        if self.batch_size in (DEFAULT_IDENTITIES * DEFAULT_EXAMPLES, block):
            object.__setattr__(self, "batch_size", block)
        super().__post_init__()

    def validate(self):
        super().validate()
        block = self.identities_per_batch * self.examples_per_identity
        if self.batch_size != block:
            raise ValueError(
                "batch_size is identities_per_batch x examples_per_identity per replica "
                f"({self.identities_per_batch} x {self.examples_per_identity} = {block}); set "
                f"those instead. Received: batch_size={self.batch_size}")
        require_positive(self, "width", "embedding_dim", "verification_pairs",
                         "identification_trials", "collapse_radius")
        for name in ("identities_per_batch", "examples_per_identity"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2 (triplets need positives and negatives). "
                                 f"Received: {name}={getattr(self, name)}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0. Received: margin={self.margin}")
        if not 0.0 < self.unseen_fraction < 1.0:
            raise ValueError(f"unseen_fraction must be in (0, 1). Received: "
                             f"unseen_fraction={self.unseen_fraction}")
        if self.image_size < 0:
            raise ValueError(f"image_size must be >= 0. Received: image_size={self.image_size}")
        if self.limit is not None and self.limit < 20:
            raise ValueError(f"limit must be >= 20. Received: limit={self.limit}")
        if not 0.0 <= self.rotation <= 0.5:
            raise ValueError(f"rotation must be in [0, 0.5]. Received: rotation={self.rotation}")
        require_fraction(self, "zoom", "contrast")
        if self.dataset == "images" and not self.data_dir:
            raise ValueError("dataset=images needs --set data_dir=DIR (one sub-folder of images "
                             "per identity)")

    def augmenting(self, dataset=None):
        """Whether training augments (``augment="auto"`` is on); ``dataset``
        is there for the cnn app's ``augmentation_layers``, which passes one."""
        return self.augment != "off"

    def augmentation(self):
        """The settings the model's augmentation layers take: these, with
        ``flip`` off where a mirrored image is another identity (a mirrored
        2 is no 2 when mirrored copies are identities of their own)."""
        if self.flip and "flips" in self.identity_transforms():
            return dataclasses.replace(self, flip=False)
        return self

    def identity_transforms(self):
        """``extra_identities`` after resolving "auto"."""
        if self.extra_identities != "auto":
            return self.extra_identities
        return {"mnist5k": "rotations_flips", "digits": "rotations_flips",
                "fashion_mnist": "rotations"}.get(self.dataset, "none")

    def detecting(self):
        """Whether images are face crops made by MTCNN."""
        return self.dataset == "images" and (self.detect_faces == "on" or (
            self.detect_faces == "auto" and faces.mtcnn_available()))


def calibrate(model, x, labels, config, seed_offset=0):
    """Embed ``x``, score ``config.verification_pairs`` pairs; the threshold
    of best accuracy and everything it was computed from."""
    embeddings = model.predict(x, batch_size=256, verbose=0)
    first, second, same = verification.make_pairs(labels, config.verification_pairs,
                                                  config.seed + seed_offset)
    distances = verification.pair_distances(embeddings[first], embeddings[second],
                                            config.distance)
    threshold, accuracy = verification.calibrate_threshold(distances, same)
    return {"embeddings": embeddings, "first": first, "second": second, "same": same,
            "distances": distances, "threshold": threshold, "accuracy": accuracy}


def test_gallery(data, config):
    """who_is_it's built-in gallery: one test image per held-out identity."""
    rng = np.random.default_rng(config.seed + 2)
    index = verification.one_shot_gallery(data.y_test, rng)
    return index, [data.class_names[int(label)] for label in data.y_test[index]]


@register_app("face")
class FaceApp(App):
    """Siamese embeddings, triplet loss, one-shot verification and identification."""

    config_class = FaceConfig
    description = ("face verification: embeddings trained with the triplet loss, one-shot "
                   "verification and identification on unseen identities")
    monitor = "val_roc_auc"
    monitor_mode = "max"

    # -- data -----------------------------------------------------------------
    def make_datasets(self, config):
        size = (config.image_size, config.image_size) if config.image_size else None
        data = load_identities(config.dataset, seed=config.seed,
                               unseen_fraction=config.unseen_fraction, data_dir=config.data_dir,
                               image_size=size, limit=config.limit,
                               detect_faces=config.detect_faces)
        transforms = config.identity_transforms()
        if transforms != "none":
            data.x_train, data.y_train, data.class_names, merged = transformed_identities(
                data.x_train, data.y_train, data.class_names, transforms)
            data.split.update(extra_identities=transforms, identities_merged=merged,
                              train_identities=int(len(np.unique(data.y_train))))
            data.split["sizes"]["train"] = len(data.y_train)
        identities = data.split["train_identities"]
        if config.identities_per_batch > identities:
            raise UsageError(
                f"identities_per_batch={config.identities_per_batch} but {data.name} leaves "
                f"{identities} training identities; set identities_per_batch <= {identities}")
        return data

    def pipeline(self, x, y, global_batch_size, training, epoch=None, replicas=1):
        """Training: P x K identity blocks, one block per replica in each
        global batch, drawn from ``(seed, epoch)``; dev and test: the
        runtime's plain batches."""
        if not training:
            return super().pipeline(x, y, global_batch_size, training, epoch, replicas)
        steps = max(1, len(x) // global_batch_size)
        return identity_batches(x, y, self.config.identities_per_batch,
                                self.config.examples_per_identity, replicas, steps,
                                self.config.seed, epoch=epoch)

    # -- model ----------------------------------------------------------------
    def build_model(self, config, data):
        model = build_embedding_model(config, data.input_shape)
        return compile_embedding_model(model, config)

    def callbacks(self, config, data, run):
        self.triplet_monitor = TripletMonitor(
            data.x_dev, data.y_dev, margin=config.margin, distance=config.distance,
            log_dir=run.tb, collapse_radius=config.collapse_radius, seed=config.seed)
        return [
            self.triplet_monitor,
            VerificationMonitor(data.x_dev, data.y_dev, config.distance,
                                pairs=config.verification_pairs, seed=config.seed),
            EmbeddingProjector(data.x_dev, data.y_dev, run.tb, data.class_names,
                               seed=config.seed),
        ]

    # -- export ---------------------------------------------------------------
    def export_endpoints(self, model, config, data):
        threshold = calibrate(model, data.x_dev, data.y_dev, config)["threshold"]
        index, names = test_gallery(data, config)
        gallery = (model.predict(data.x_test[index], verbose=0), names)
        count = batch_size_for_check(config.batch_size)
        return face_endpoints(model, data.input_shape, threshold, config.distance, gallery,
                              data.x_test[:2 * count])

    def predict_files(self, loaded, paths):
        images = [self._read(path) for path in paths]
        if len(paths) == 2:
            outputs = self._call(loaded.verify, tf.constant(images[0][None]),
                                 tf.constant(images[1][None]))
            distance = float(outputs["distance"][0])
            threshold = float(outputs["threshold"][0])
            if bool(outputs["same"][0]):
                verdict = f"same identity (distance {distance:.4f} <= threshold {threshold:.4f})"
            else:
                verdict = (f"different identities (distance {distance:.4f} > threshold "
                           f"{threshold:.4f})")
            return [f"{paths[0]} and {paths[1]}: {verdict}"]
        lines = []
        for path, image in zip(paths, images):
            outputs = self._call(loaded.who_is_it, tf.constant(image[None]))
            name = outputs["name"][0].decode()
            nearest = outputs["nearest_name"][0].decode()
            distance = float(outputs["distance"][0])
            if bool(outputs["known"][0]):
                lines.append(f"{path}: {name} (distance {distance:.4f} to its gallery image)")
            else:
                lines.append(f"{path}: {verification.UNKNOWN} (nearest: {nearest} at distance "
                             f"{distance:.4f}, above the threshold)")
        return lines

    def _read(self, path):
        image = read_image(path)
        if not self.config.detecting():
            return image
        rgb = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
        size = self.config.image_size or 96
        crop = faces.crop_face(rgb, (size, size))
        if crop is None:
            raise UsageError(f"{path}: no face found (MTCNN); give a photo with one clear face, "
                             "or use a run trained with detect_faces=off")
        return crop

    @staticmethod
    def _call(signature, *args):
        try:
            outputs = signature(*args)
        except (tf.errors.InvalidArgumentError, ValueError) as error:
            raise UsageError(explain(error)) from None
        return {name: value.numpy() for name, value in outputs.items()}

    # -- report ---------------------------------------------------------------
    def report(self, model, config, data, run):
        from dlsuite.apps.face.report import face_report

        return face_report(self, model, config, data, run)
