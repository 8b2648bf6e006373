"""End to end: `dlsuite train gan --set variant=stylegan` on digits (8x8)."""

import hashlib
import json

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.gan import style_app
from dlsuite.apps.runtime import commands, training
from dlsuite.apps.errors import UsageError
from tests.apps.fresh_process import images_from_fresh_process

TINY = ["variant=stylegan", "dataset=digits", "limit=300", "latent_dim=8", "w_dim=8",
        "mapping_layers=2", "style_filters=4", "style_max_filters=8", "batch_size=32",
        "quality_samples=60", "classifier_epochs=1", "r1_interval=4"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("stylegan")
    session, metrics = training.train("gan", TINY, epochs=2, strategy="default",
                                      precision_name="float32", run_dir=root / "run", verbose=0)
    return session, metrics, root


def test_trains_logs_every_term_and_reports_the_figures(trained):
    session, metrics, _ = trained
    run = session.run
    history = run.read_history()
    assert len(history) == 2
    for key in ("discriminator_loss", "generator_loss", "d_real", "d_fake", "r1_penalty",
                "inception_score", "frechet_distance", "class_entropy", "val_r1_penalty"):
        assert np.isfinite(history[-1][key]), key
    assert history[-1]["r1_penalty"] > 0
    quality = metrics["quality"]
    # The per-epoch figures are the ones the history logged.
    assert ([row["inception_score"] for row in quality["per_epoch"]]
            == pytest.approx([row["inception_score"] for row in history]))
    for figure in ("samples.png", "style_mixing.png", "truncation.png"):
        assert (run.path / figure).exists(), figure
    report = run.report.read_text()
    for section in ("## Style mixing", "![style mixing](style_mixing.png)", "## Truncation",
                    "![truncation](truncation.png)", "## Sample quality"):
        assert section in report, section
    assert f"| inception_score | {quality['inception_score']:.4f} |" in report
    tags = set()
    for events in (run.tb / "images").glob("events.*"):
        for record in tf.compat.v1.train.summary_iterator(str(events)):
            tags |= {value.tag for value in record.summary.value}
    assert {"samples", "style_mixing", "truncation"} <= tags, tags
    assert json.loads(run.metrics.read_text())["export"]["signatures"] == ["generate", "mix",
                                                                            "map"]


def _live(session, name, *args):
    endpoint = {e.name: e for e in session.app.export_endpoints(
        session.model, session.config, session.data)}[name]
    return endpoint.fn(*[tf.constant(a) for a in args]).numpy()


def test_exports_generate_mix_and_map_the_same_in_a_fresh_process(trained):
    session, _, root = trained
    noise_a = np.random.default_rng(0).standard_normal((5, 8)).astype("float32")
    noise_b = np.random.default_rng(1).standard_normal((5, 8)).astype("float32")
    np.save(root / "a.npy", noise_a)
    np.save(root / "b.npy", noise_b)
    # One server process answers all three; their outputs are compared as
    # one float64 vector (uint8 images and float32 codes, exactly).
    call = ("a, b = tf.constant(np.load('a.npy')), tf.constant(np.load('b.npy')); "
            "parts = [loaded.generate(a, tf.constant(0.7)), loaded.mix(a, b, tf.constant(2)), "
            "loaded.map(a)]; "
            "images = np.concatenate([np.asarray(p, np.float64).ravel() for p in parts])")
    served = images_from_fresh_process(session.run.export, call, cwd=root)
    parts = [_live(session, "generate", noise_a, np.float32(0.7)),
             _live(session, "mix", noise_a, noise_b, np.int32(2)),
             _live(session, "map", noise_a)]
    assert [p.shape for p in parts] == [(5, 8, 8, 1), (5, 8, 8, 1), (5, 8)]
    assert [p.dtype for p in parts] == [np.uint8, np.uint8, np.float32]
    live = np.concatenate([p.astype(np.float64).ravel() for p in parts])
    assert served["dlsuite_modules"] == [], "the server needs none of dlsuite's code"
    assert served["sha256"] == hashlib.sha256(live.tobytes()).hexdigest()
    assert served["std"] > 0


def test_signatures_refuse_values_out_of_range(trained):
    session, _, _ = trained
    loaded = tf.saved_model.load(str(session.run.export))
    noise = tf.zeros((2, 8))
    for call, message in (
            (lambda: loaded.generate(noise, tf.constant(1.5)), "truncation_psi as a scalar in"),
            (lambda: loaded.mix(noise, noise, tf.constant(5)), "crossover_layer as a scalar in"),
            (lambda: loaded.mix(noise, tf.zeros((3, 8)), tf.constant(1)), "the same batch size"),
            (lambda: loaded.map(tf.fill((2, 8), np.nan)), r"map expects noise as float32 \(batch, 8\)")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call()
    with pytest.raises(TypeError, match=r"TensorSpec\(shape=\(None, 8\)"):
        loaded.map(tf.zeros((2, 7)))  # the signature's own spec refuses a wrong width
    images = loaded.mix(noise, noise, tf.constant(4)).numpy()  # crossover L = 4 is valid
    assert images.dtype == np.uint8 and images.shape == (2, 8, 8, 1)


def test_predict_writes_a_grid_per_file_of_codes(trained):
    session, _, root = trained
    codes = np.random.default_rng(2).standard_normal((3, 8)).astype("float32")
    np.save(root / "codes.npy", codes)
    np.savetxt(root / "codes.txt", codes)
    lines = commands.predict(session.run.path, [root / "codes.npy", root / "codes.txt"])
    assert lines == [f"{root / 'codes.npy'}: 3 image(s) -> {root / 'codes.npy'}.png",
                     f"{root / 'codes.txt'}: 3 image(s) -> {root / 'codes.txt'}.png"]
    assert (root / "codes.npy.png").exists() and (root / "codes.txt.png").exists()
    np.save(root / "wide.npy", np.zeros((2, 9), "float32"))
    with pytest.raises(UsageError, match=r"expected noise codes of shape \(count, 8\)"):
        commands.predict(session.run.path, [root / "wide.npy"])


def test_images_are_padded_to_a_power_of_two_and_bad_sizes_are_refused():
    images = np.zeros((4, 28, 28, 1), np.uint8)
    data = DataSplits("toy", images, np.zeros(4), images[:2], np.zeros(2), images[:0],
                      np.zeros(0), ["a"], "toy source", {})
    resized = style_app.power_of_two(data)
    assert resized.input_shape == (32, 32, 1) and resized.x_test.shape == (0, 32, 32, 1)
    assert "resized to 32x32" in resized.source
    assert style_app.power_of_two(resized) is resized
    with pytest.raises(UsageError, match="Received: image_size=28"):
        training.start("gan", ["variant=stylegan", "image_size=28"], verbose=0)
