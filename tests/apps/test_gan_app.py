"""End to end: `dlsuite train gan` on digits, both variants."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import training
from tests.apps.fresh_process import images_from_fresh_process

TINY = ["dataset=digits", "limit=300", "latent_dim=8", "generator_filters=4",
        "discriminator_filters=4", "label_embedding_dim=4", "batch_size=32",
        "quality_samples=60", "classifier_epochs=1"]


@pytest.mark.parametrize("variant", ["dcgan", "conditional"])
def test_train_export_report(variant, tmp_path):
    session, metrics = training.train(
        "gan", TINY + [f"variant={variant}"], epochs=2, strategy="default",
        precision_name="float32", run_dir=tmp_path / variant, verbose=0)
    run = session.run
    history = run.read_history()
    assert len(history) == 2
    for key in ("discriminator_loss", "generator_loss", "d_real", "d_fake",
                "inception_score", "frechet_distance", "class_entropy"):
        assert np.isfinite(history[-1][key]), key
    assert ("label_accuracy" in history[-1]) == (variant == "conditional")
    quality = metrics["quality"]
    # The classifier Inception Score of 10 classes lies in [1, 10].
    assert quality["inception_score"] >= 1.0 and quality["inception_score"] <= 10.0
    assert len(quality["per_epoch"]) == 2
    assert (run.path / "samples.png").exists() and (run.path / "reference_classifier.keras").exists()
    assert "![samples](samples.png)" in run.report.read_text()
    assert list((run.tb / "images").glob("events.*")), "the image grid reaches TensorBoard"

    loaded = tf.saved_model.load(str(run.export))
    noise = tf.random.stateless_normal((4, 8), seed=[0, 1])
    images = (loaded.generate(noise, tf.constant([0, 1, 2, 3]))
              if variant == "conditional" else loaded.generate(noise))
    assert images.dtype == tf.uint8 and tuple(images.shape) == (4, 8, 8, 1)
    assert json.loads(run.metrics.read_text())["export"]["signatures"] == ["generate"]

    # A server: a new process with TensorFlow only.
    call = ("noise = tf.random.stateless_normal((6, 8), seed=[3, 4]); images = "
            + ("loaded.generate(noise, tf.constant([0, 1, 2, 3, 4, 5]))"
               if variant == "conditional" else "loaded.generate(noise)"))
    served = images_from_fresh_process(run.export, call, cwd=tmp_path)
    assert served["shape"] == [6, 8, 8, 1] and served["dtype"] == "uint8"
    assert served["std"] > 0, "different noise gives different pixels"
    assert served["dlsuite_modules"] == [], "the server needs none of dlsuite's code"
