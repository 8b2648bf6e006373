"""End to end: `dlsuite train face` on digits: train, calibrate, export,
reload in a fresh process, predict on files, report, TensorBoard."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.face import FaceConfig, verification
from dlsuite.apps.face.model import build_embedding_model, compile_embedding_model
from dlsuite.apps.face.pipeline import identity_batches
from dlsuite.apps.runtime import commands, training
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from tests.apps.fresh_process import value_from_fresh_process
from tests.runtime.helpers import weights_of

# 8x8 digits: 6 identities train (P = 3 of them per block, K = 4), 4 held out.
TINY = ["dataset=digits", "limit=400", "width=0.0625", "embedding_dim=8",
        "identities_per_batch=3", "examples_per_identity=4", "verification_pairs=400",
        "identification_trials=3", "patience=0"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("face") / "run"
    session, metrics = commands.train("face", overrides=TINY, epochs=1, strategy="default",
                                      precision_name="float32", run_dir=str(run_dir), verbose=0)
    return session, metrics, run_dir


@pytest.fixture(scope="module")
def loaded(trained_run):
    return tf.saved_model.load(str(trained_run[2] / "export"))


def _tags(folder):
    tags = set()
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_run_reports_verification_identification_and_figures(trained_run):
    session, metrics, run_dir = trained_run
    data = session.data
    # Dev and test hold only identities never seen in training.
    assert not set(data.y_train) & (set(data.y_dev) | set(data.y_test))
    assert set(data.y_dev) == set(data.y_test) and len(set(data.y_dev)) == 4
    result = metrics["verification"]
    # The dev threshold is the one of best accuracy on balanced dev pairs, so
    # at least as good as answering always "same" (or always "different");
    # on test pairs the same threshold may do worse after one epoch.
    assert 0.5 <= result["dev"]["accuracy"] <= 1.0
    for split in ("dev", "test"):
        values = result[split]
        assert values["threshold"] == result["threshold"]
        assert 0.0 <= values["roc_auc"] <= 1.0 and 0.0 <= values["eer"] <= 1.0
        # Accuracy is what the two error rates leave on half same, half different pairs.
        errors = (values["false_accept_rate"] + values["false_reject_rate"]) / 2
        assert values["accuracy"] == pytest.approx(1.0 - errors, abs=1.0 / values["pairs"])
    assert metrics["identification"]["n_way"] == 4
    assert 0.0 <= metrics["identification"]["accuracy"] <= 1.0
    report = (run_dir / "report.md").read_text()
    for expected in ("Verification (identities never seen in training)", "One-shot identification",
                     "4-way accuracy", "![ROC curves](roc.png)", "Triplets on test"):
        assert expected in report
    for figure in ("roc.png", "distances.png", "learning_curves.png", "dev_curves.png"):
        assert (run_dir / figure).stat().st_size > 1000
    history = session.run.read_history()
    for key in ("loss", "val_loss", "val_active_triplets", "val_positive_distance",
                "val_negative_distance", "val_verification_accuracy", "val_roc_auc"):
        assert np.isfinite(history[-1][key]), key
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["batch_size"] == 12
    assert record["data"]["split"]["by"] == "identity"
    # Digits: the 6 training classes, turned and mirrored, are more identities.
    assert record["data"]["split"]["extra_identities"] == "rotations_flips"
    assert record["data"]["split"]["train_identities"] > 30


def test_tensorboard_gets_histograms_scalars_and_the_projector(trained_run):
    _, _, run_dir = trained_run
    tags = _tags(run_dir / "tb" / "validation")
    assert {"positive_distances", "negative_distances", "epoch_roc_auc",
            "epoch_active_triplets"} <= tags
    config = (run_dir / "tb" / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "projector/vectors.tsv"' in config and "sprite" in config
    vectors = np.loadtxt(run_dir / "tb" / "projector" / "vectors.tsv", delimiter="\t")
    names = (run_dir / "tb" / "projector" / "metadata.tsv").read_text().split()
    assert vectors.shape == (len(names), 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_verify_agrees_with_embed_and_the_threshold_in_a_fresh_process(trained_run, tmp_path):
    session, metrics, run_dir = trained_run
    threshold = metrics["verification"]["threshold"]
    # A batch of 7 pairs (training used 12), some same, some different.
    call = (
        "import numpy as np\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "a, b = tf.constant(x[:7]), tf.constant(x[7:14])\n"
        "out = loaded.verify(a, b)\n"
        "value = {'distance': out['distance'], 'same': out['same'],\n"
        "         'threshold': out['threshold'], 'a': loaded.embed(a)['embeddings'],\n"
        "         'b': loaded.embed(b)['embeddings']}\n"
        "value = {name: tensor.numpy().tolist() for name, tensor in value.items()}\n")
    data = session.data
    x = np.concatenate([data.x_test[:7], data.x_test[[0, 8, 9, 10, 11, 12, 13]]])
    np.save(tmp_path / "x.npy", x)
    served = value_from_fresh_process(run_dir / "export", call, cwd=tmp_path)
    assert served["dlsuite_modules"] == [], "the server needs none of dlsuite's code"
    values = {k: np.asarray(v) for k, v in served["value"].items()}
    expected = verification.pair_distances(values["a"], values["b"], "squared_l2")
    np.testing.assert_allclose(values["distance"], expected, atol=1e-5)
    np.testing.assert_array_equal(values["same"], expected <= threshold)
    np.testing.assert_allclose(values["threshold"], threshold, rtol=1e-6)
    assert values["distance"][0] < 1e-5 and values["same"][0], "an image is itself"
    # The live Keras model gives the same embeddings.
    live = session.model.predict(x[:7].astype("float32"), verbose=0)
    np.testing.assert_allclose(values["a"], live, atol=1e-5)


def test_identify_and_who_is_it(trained_run, loaded):
    session, metrics, _ = trained_run
    data = session.data
    gallery = loaded.embed(tf.constant(data.x_test[:3]))["embeddings"]
    names = tf.constant(["first", "second", "third"])
    out = loaded.identify(tf.constant(data.x_test[:3]), gallery, names)
    assert [n.decode() for n in out["nearest_name"].numpy()] == ["first", "second", "third"]
    np.testing.assert_allclose(out["distance"].numpy(), 0.0, atol=1e-5)
    assert out["known"].numpy().all()
    # A gallery far from everything: "unknown".
    far = -gallery.numpy()
    out = loaded.identify(tf.constant(data.x_test[:2]), tf.constant(far), names)
    far_distance = verification.cross_distances(gallery.numpy()[:2], far).min(axis=1)
    expected = np.where(far_distance <= metrics["verification"]["threshold"], "", "unknown")
    for got, want in zip(out["name"].numpy(), expected):
        if want:
            assert got.decode() == "unknown"
    who = loaded.who_is_it(tf.constant(data.x_test[:4]))
    assert set(n.decode() for n in who["nearest_name"].numpy()) <= {
        data.class_names[i] for i in set(data.y_test)}


@pytest.mark.parametrize("signature, make_args, message", [
    ("embed", lambda x: [tf.constant(x[0])], "embed expects images .* another rank"),
    ("embed", lambda x: [tf.constant(x[:0])], "embed expects images .* empty batch"),
    ("verify", lambda x: [tf.constant(x[:2]), tf.constant(x[:3])], "same batch size"),
    ("verify", lambda x: [tf.constant(x[:2]), tf.constant(x[:0])], "image_b .* empty batch"),
    ("verify", lambda x: [tf.constant(x[0]), tf.constant(x[:1])], "image_a .* another rank"),
    ("identify", lambda x: [tf.constant(x[:2]), tf.zeros((2, 5)), tf.constant(["a", "b"])],
     "gallery_embeddings as float32 \\(batch, 8\\)"),
    ("identify", lambda x: [tf.constant(x[:2]), tf.zeros((2, 8)), tf.constant(["a"])],
     "one gallery name per gallery embedding"),
    ("identify", lambda x: [tf.constant(x[:2]), tf.fill((2, 8), np.nan), tf.constant(["a", "b"])],
     "NaN or inf"),
    ("identify", lambda x: [tf.constant(x[:2]), tf.zeros((0, 8)), tf.constant([], tf.string)],
     "empty batch"),
    ("who_is_it", lambda x: [tf.constant(x[:1, :, :, :1].repeat(2, -1))], "channels"),
])
def test_signatures_refuse_bad_input_clearly(trained_run, loaded, signature, make_args, message):
    session = trained_run[0]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        getattr(loaded, signature)(*make_args(session.data.x_test))


@pytest.mark.parametrize("signature", ["embed", "who_is_it"])
def test_a_wrong_dtype_is_refused_by_the_signature(trained_run, loaded, signature):
    session = trained_run[0]
    with pytest.raises((ValueError, TypeError)):
        getattr(loaded, signature)(tf.constant(session.data.x_test[:2].astype("float32")))


def test_predict_says_same_or_different_and_who_it_is(trained_run, tmp_path):
    session, metrics, run_dir = trained_run
    data = session.data
    paths = []
    for index in range(3):
        path = tmp_path / f"digit{index}.png"
        path.write_bytes(tf.io.encode_png(data.x_test[index]).numpy())
        paths.append(str(path))
    same_line, = commands.predict(str(run_dir), [paths[0], paths[0]])
    threshold = metrics["verification"]["threshold"]
    assert same_line.startswith(f"{paths[0]} and {paths[0]}: same identity (distance 0.0000")
    assert f"threshold {threshold:.4f}" in same_line
    pair_line, = commands.predict(str(run_dir), paths[:2])
    assert ("same identity" in pair_line) or ("different identities" in pair_line)
    lines = commands.predict(str(run_dir), paths)
    assert len(lines) == 3 and all(line.startswith(p + ": ") for line, p in zip(lines, paths))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UsageError, match="notes.png is not an image"):
        commands.predict(str(run_dir), [str(text)])


@pytest.mark.parametrize("override, message", [
    ("batch_size=50", "batch_size is identities_per_batch x examples_per_identity"),
    ("examples_per_identity=1", "examples_per_identity must be >= 2"),
    ("unseen_fraction=1.5", "unseen_fraction must be in"),
    ("margin=-1", "margin must be >= 0"),
    ("dataset=images", "data_dir"),
    ("mining=easy", "mining"),
    ("backbone=resnet20", "backbone"),
    ("limit=5", "limit must be >= 20"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(FaceConfig(), [override])


def test_batch_size_follows_identities_and_examples():
    assert FaceConfig().batch_size == 12 * 8
    config = apply_overrides(FaceConfig(), ["identities_per_batch=4", "examples_per_identity=5"])
    assert config.batch_size == 20
    assert apply_overrides(config, ["epochs=2"]).batch_size == 20


def _augmentation_names(model):
    return [layer.name for layer in model.layers if layer.name.startswith("random_")]


@pytest.mark.parametrize("overrides, expected", [
    # Digits: mirrored copies are identities of their own, so no flips.
    (["dataset=mnist5k"], ["random_rotation", "random_zoom"]),
    (["dataset=mnist5k", "extra_identities=rotations"],
     ["random_flip", "random_rotation", "random_zoom"]),
    (["dataset=fashion_mnist"], ["random_flip", "random_rotation", "random_zoom"]),
    (["dataset=mnist5k", "augment=off"], []),
])
def test_training_augments_every_set_without_flipping_mirrored_identities(overrides, expected):
    config = apply_overrides(FaceConfig(), overrides + ["width=0.0625", "embedding_dim=8"])
    assert _augmentation_names(build_embedding_model(config, (28, 28, 1))) == expected


def test_the_contrastive_peer_augments_as_ours():
    from benchmarks import face_contrastive

    config = apply_overrides(FaceConfig(), ["width=0.0625", "embedding_dim=8"])
    tower, _ = face_contrastive.build_siamese(config, (28, 28, 1))
    ours = build_embedding_model(config, (28, 28, 1))
    assert _augmentation_names(tower) == _augmentation_names(ours) != []
    for name in _augmentation_names(ours):
        assert tower.get_layer(name).get_config() == ours.get_layer(name).get_config()


def test_too_many_identities_per_batch_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="identities_per_batch=8 .* 6 training identities"):
        training.start("face", TINY + ["identities_per_batch=8", "extra_identities=none"],
                       epochs=1, strategy="default",
                       precision_name="float32", run_dir=tmp_path / "run", verbose=0)


def test_identity_batches_give_each_replica_whole_groups():
    labels = np.repeat(np.arange(6), [9, 2, 7, 7, 12, 5])
    x = np.arange(len(labels))
    dataset = identity_batches(x, labels, identities=3, examples=4, replicas=2, steps=4, seed=3)
    epochs = []
    for _ in range(2):
        batches = list(dataset)
        assert len(batches) == 4
        for images, batch_labels in batches:
            images, batch_labels = images.numpy(), batch_labels.numpy()
            np.testing.assert_array_equal(labels[images], batch_labels)
            for replica in batch_labels.reshape(2, 3, 4):
                # Three distinct identities, four examples of each, contiguous.
                assert len(set(replica[:, 0])) == 3
                assert (replica == replica[:, :1]).all()
            for group in images.reshape(6, 4):
                if labels[group[0]] != 1:  # identity 1 has only 2 images
                    assert len(set(group)) == 4
        epochs.append(np.concatenate([b[0].numpy() for b in batches]))
    assert not np.array_equal(epochs[0], epochs[1]), "each epoch draws new blocks"


def test_identity_batches_are_a_function_of_seed_and_epoch():
    """Given the run's epoch variable, an epoch's blocks depend on (seed,
    epoch) alone: a run resumed at epoch 2 draws what an uninterrupted one
    drew there, and every epoch draws new blocks."""
    labels = np.repeat(np.arange(6), 8)
    x = np.arange(len(labels))
    epoch = tf.Variable(0, dtype=tf.int64)

    def one_epoch(value):
        epoch.assign(value)
        dataset = identity_batches(x, labels, identities=3, examples=4, replicas=1, steps=3,
                                   seed=5, epoch=epoch)
        return np.concatenate([images.numpy() for images, _ in dataset])

    first, second = one_epoch(0), one_epoch(1)
    assert not np.array_equal(first, second), "each epoch draws new blocks"
    np.testing.assert_array_equal(one_epoch(1), second)
    np.testing.assert_array_equal(one_epoch(0), first)


def test_first_step_is_the_same_on_one_and_two_replicas(tmp_path):
    """The runtime's P x K pipeline under MirroredStrategy (one block per
    replica) and one replica on the same global batch take the same step.
    LeNet-5: no batch norm, whose statistics are per replica; no
    augmentation, whose random draws are per replica."""
    overrides = TINY + ["backbone=lenet5", "width=0.5", "optimizer=minibatch_gd",
                        "learning_rate=0.5", "margin=0.5", "augment=off"]
    mirrored = training.start("face", overrides, epochs=1, strategy="mirrored",
                              precision_name="float32", run_dir=tmp_path / "two", verbose=0)
    assert mirrored.replicas == 2 and mirrored.batch_size() == (12, 24)
    batch = next(iter(training.datasets(mirrored)[0]))
    assert batch[0].shape[0] == 24
    results = []
    for session in (mirrored, training.start("face", overrides, epochs=1, strategy="default",
                                             precision_name="float32",
                                             run_dir=tmp_path / "one", verbose=0)):
        model = training.build(session)
        before = weights_of(model)
        model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0, shuffle=False)
        results.append((before, weights_of(model)))
    (start_two, after_two), (start_one, after_one) = results
    for a, b in zip(start_one, start_two):
        np.testing.assert_array_equal(a, b)
    assert max(np.abs(a - b).max() for a, b in zip(after_one, start_one)) > 1e-4
    for a, b in zip(after_one, after_two):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_a_finite_loss(policy):
    keras.config.set_dtype_policy(policy)
    config = apply_overrides(FaceConfig(), TINY + ["backbone=lenet5", "width=0.5"])
    model = compile_embedding_model(build_embedding_model(config, (8, 8, 1)), config)
    assert model.output.dtype == "float32"
    assert model.get_layer("embedding").compute_dtype == policy.removeprefix("mixed_")
    labels = np.repeat(np.arange(3), 4)
    images = np.random.default_rng(0).integers(0, 256, (12, 8, 8, 1)).astype("float32")
    history = model.fit(images, labels, batch_size=12, epochs=3, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert history.history["loss"][-1] < history.history["loss"][0]
