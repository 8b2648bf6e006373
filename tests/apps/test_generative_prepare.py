"""The image generators' reference classifier is fitted in the runtime's
explicit ``prepare`` step (issue 31, point 5), seeded, kept in the run and
loaded from it, never trained inside ``App.callbacks()``."""

import numpy as np
import pytest

from dlsuite.apps.runtime import training

GAN = ["variant=dcgan", "dataset=digits", "limit=200", "latent_dim=8", "generator_filters=4",
       "discriminator_filters=4", "batch_size=32", "quality_samples=40", "classifier_epochs=1"]
VAE = ["dataset=digits", "limit=200", "latent_dim=2", "batch_size=32", "quality_samples=40",
       "classifier_epochs=1"]


@pytest.mark.parametrize("app, overrides", [("gan", GAN), ("vae", VAE)])
def test_reference_classifier_is_prepared_before_the_model(app, overrides, tmp_path):
    session = training.start(app, overrides, epochs=1, strategy="default",
                             precision_name="float32", run_dir=tmp_path / "a", verbose=0)
    try:
        saved = session.run.path / "reference_classifier.keras"
        # Trained by the runtime's step, before any model or callback exists.
        assert saved.exists() and session.model is None
        classifier, accuracy = session.app.reference
        assert 0.0 <= accuracy <= 1.0 and session.app.classifier_accuracy == accuracy
        stamp = saved.stat().st_mtime_ns
        found = session.app.callbacks(session.config, session.data, session.run)
        assert session.app.quality in found
        assert saved.stat().st_mtime_ns == stamp, "callbacks() must not train or save anything"
    finally:
        session.release()

    # Seeded: a second run of the same config fits the same classifier.
    other = training.start(app, overrides, epochs=1, strategy="default",
                           precision_name="float32", run_dir=tmp_path / "b", verbose=0)
    try:
        for mine, theirs in zip(classifier.get_weights(), other.app.reference[0].get_weights()):
            np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    finally:
        other.release()

    # Reopened (resume, evaluate, export, report): loaded from the run, not refitted.
    again = training.reopen(tmp_path / "a", verbose=0)
    try:
        assert saved.stat().st_mtime_ns == stamp
        assert again.app.classifier_accuracy == pytest.approx(accuracy)
    finally:
        again.release()


def test_quality_off_prepares_nothing(tmp_path):
    session = training.start("gan", GAN + ["quality=false"], epochs=1, strategy="default",
                             precision_name="float32", run_dir=tmp_path, verbose=0)
    try:
        assert session.app.reference is None
        assert not (session.run.path / "reference_classifier.keras").exists()
        assert session.app.quality_callback(None, session.config, session.data, None) is None
    finally:
        session.release()
