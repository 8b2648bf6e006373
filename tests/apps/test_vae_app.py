"""End to end: `dlsuite train vae` on digits."""

import numpy as np
import tensorflow as tf

from dlsuite.apps.runtime import training
from tests.apps.fresh_process import images_from_fresh_process

TINY = ["dataset=digits", "limit=300", "filters=4", "hidden_units=16", "batch_size=32",
        "traversal_size=4", "quality_samples=60", "classifier_epochs=1"]


def test_train_export_report(tmp_path):
    session, metrics = training.train("vae", TINY, epochs=2, strategy="default",
                                      precision_name="float32", run_dir=tmp_path / "vae",
                                      verbose=0)
    run = session.run
    history = run.read_history()
    assert len(history) == 2
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss", "inception_score",
                "frechet_distance"):
        assert np.isfinite(history[-1][key]), key
    assert history[-1]["loss"] < history[0]["loss"]
    assert metrics["test"]["elbo"] == -metrics["test"]["loss"] < 0
    report = run.report.read_text()
    assert "Test ELBO" in report and "latent_traversal.png" in report
    for name in ("reconstructions.png", "latent_traversal.png"):
        assert (run.path / name).exists()
    assert len(list((run.tb / "images").glob("events.*"))) >= 1

    loaded = tf.saved_model.load(str(run.export))
    codes = loaded.encode(tf.constant(session.data.x_test[:3]))
    assert tuple(codes["z_mean"].shape) == (3, 2)
    images = loaded.decode(codes["z_mean"])
    assert images.dtype == tf.uint8 and tuple(images.shape) == (3, 8, 8, 1)
    first = loaded.sample(tf.constant(5), tf.constant(1)).numpy()
    np.testing.assert_array_equal(first, loaded.sample(tf.constant(5), tf.constant(1)).numpy())
    assert first.shape == (5, 8, 8, 1)

    # A server: a new process with TensorFlow only.
    served = images_from_fresh_process(
        run.export, "images = loaded.sample(tf.constant(6), tf.constant(2))", cwd=tmp_path)
    assert served["shape"] == [6, 8, 8, 1] and served["dtype"] == "uint8"
    assert served["std"] > 0
    assert served["dlsuite_modules"] == [], "the server needs none of dlsuite's code"
