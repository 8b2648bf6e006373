"""End-to-end tests of the cnn app: train, evaluate, export, reload, predict."""

import json

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.cnn import CNNConfig, augmentation_layers, build_classifier
from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError

TINY = ["dataset=digits", "limit=200", "width=0.0625", "epochs=1", "batch_size=16",
        "patience=0"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny resnet18 run on 8x8 digits with every augmentation on."""
    run_dir = tmp_path_factory.mktemp("cnn") / "run"
    session, metrics = commands.train(
        "cnn",
        overrides=TINY + ["arch=resnet18", "augment=on", "contrast=0.1"],
        strategy="default", precision_name="float32", run_dir=str(run_dir), verbose=0,
    )
    return session, metrics, run_dir


def test_run_writes_report_figures_and_export(trained_run):
    session, metrics, run_dir = trained_run
    assert {"train", "dev", "test"} <= set(metrics["evaluation"])
    assert metrics["export"]["signatures"] == ["classify"]
    report = (run_dir / "report.md").read_text()
    for expected in ("## ML strategy", "Learning curves", "Confusion matrix",
                     "Error analysis"):
        assert expected in report
    for figure in ("learning_curves.png", "confusion_matrix.png"):
        assert (run_dir / figure).stat().st_size > 1000
    if metrics["quality"]["dev"]["error"] > 0:
        assert "misclassified.png" in report
        assert (run_dir / "misclassified.png").stat().st_size > 1000
    names = [layer.name for layer in session.model.layers]
    assert names[1:6] == ["random_flip", "random_rotation", "random_zoom", "random_contrast",
                          "rescale"]
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["arch"] == "resnet18"


def test_tensorboard_gets_the_image_grid_and_confusion_matrix(trained_run):
    _, _, run_dir = trained_run
    tags = set()
    for path in (run_dir / "tb" / "validation").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    assert "dev_confusion_matrix" in tags
    assert "error_analysis" in tags


def test_export_takes_uint8_images_of_any_size_and_channels(trained_run):
    session, _, run_dir = trained_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    class_names = session.data.class_names
    rng = np.random.default_rng(0)
    for shape in [(2, 8, 8, 1), (3, 31, 17, 3), (1, 64, 64, 1)]:
        images = rng.integers(0, 256, shape, dtype=np.uint8)
        outputs = loaded.classify(tf.constant(images))
        probabilities = outputs["probabilities"].numpy()
        assert probabilities.shape == (shape[0], len(class_names))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        for index, name in zip(outputs["class_index"].numpy(), outputs["class_name"].numpy()):
            assert name.decode() == class_names[index]
    # The export matches the Keras model on the data's own images.
    images = session.data.x_test[:4]
    expected = session.model.predict(images, verbose=0)
    np.testing.assert_allclose(loaded.classify(tf.constant(images))["probabilities"].numpy(),
                               expected, atol=1e-5)


@pytest.mark.parametrize(
    "shape, message",
    [((8, 8, 1), "add a batch axis for a single image"), ((1, 8, 8, 4), "received channels"),
     ((0, 8, 8, 1), "empty batch"), ((1, 4097, 4096, 1), "height x width <= 16777216")],
)
def test_export_rejects_wrong_rank_or_channels_clearly(trained_run, shape, message):
    _, _, run_dir = trained_run
    loaded = tf.saved_model.load(str(run_dir / "export"))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.classify(tf.constant(np.zeros(shape, np.uint8)))


def test_predict_prints_a_label_per_file_and_rejects_non_images(trained_run, tmp_path):
    session, _, run_dir = trained_run
    digit = session.data.x_test[0]
    png = tmp_path / "a.png"
    png.write_bytes(tf.io.encode_png(digit).numpy())
    jpeg = tmp_path / "b.jpg"
    colour = np.repeat(np.kron(digit, np.ones((4, 4, 1), np.uint8)), 3, axis=-1)
    jpeg.write_bytes(tf.io.encode_jpeg(colour).numpy())
    lines = commands.predict(str(run_dir), [str(png), str(jpeg)])
    assert len(lines) == 2
    for line, path in zip(lines, (png, jpeg)):
        assert line.startswith(f"{path}: ")
        label = line.split(": ", 1)[1].split(" (p=")[0]
        assert label in session.data.class_names
        assert 0.0 < float(line.rsplit("p=", 1)[1].rstrip(")")) <= 1.0

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(UsageError, match="notes.png is not an image"):
        commands.predict(str(run_dir), [str(text)])


@pytest.mark.parametrize(
    "arch", ["lenet5", "alexnet", pytest.param("inception", marks=pytest.mark.slow)]
)
def test_other_families_train_and_export(tmp_path, arch):
    _, metrics = commands.train(
        "cnn", overrides=TINY + [f"arch={arch}", "limit=100"], strategy="default",
        precision_name="float32", run_dir=str(tmp_path / arch), verbose=0,
    )
    assert np.isfinite(metrics["evaluation"]["train"]["loss"])
    assert (tmp_path / arch / "export" / "saved_model.pb").exists()


def test_augmentation_is_off_by_default_for_digits_only():
    assert CNNConfig(dataset="digits").augmenting() is False
    assert CNNConfig(dataset="mnist5k").augmenting() is False
    assert CNNConfig(dataset="fashion_mnist").augmenting() is True
    assert [layer.name for layer in augmentation_layers(CNNConfig(), 1)] == [
        "random_flip", "random_rotation", "random_zoom"]
    no_flip = apply_overrides(CNNConfig(), ["flip=false", "rotation=0", "contrast=0.2"])
    assert [layer.name for layer in augmentation_layers(no_flip, 3)] == [
        "random_zoom", "random_contrast"]


def test_augmentation_acts_only_in_training():
    config = CNNConfig(arch="lenet5", width=0.25, rotation=0.2, zoom=0.3)
    model = build_classifier(config, (28, 28, 1), 10)
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(model(images, training=False)),
                                  np.asarray(model(images, training=False)))
    augment = model.get_layer("random_rotation")
    assert not np.allclose(np.asarray(augment(images, training=True)), images)
    np.testing.assert_array_equal(np.asarray(augment(images, training=False)), images)


@pytest.mark.parametrize(
    "override, message",
    [
        ("arch=resnet20", "arch"),
        ("width=0", "width must be > 0"),
        ("rotation=0.7", "rotation must be in"),
        ("zoom=1.5", "zoom must be in"),
        ("dataset=images", "data_dir"),
        ("limit=3", "limit must be >= 10"),
    ],
)
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(CNNConfig(), [override])


def test_misclassified_examples_cover_many_confusions_and_rebuild_predictions():
    from dlsuite.apps.cnn import figures
    from dlsuite.apps.runtime.figures import save_figure
    from dlsuite.callbacks import error_groups

    y_true = np.array([0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([1, 1, 1, 2, 1, 0, 2])
    names = ["a", "b", "c"]
    groups = error_groups(y_true, y_pred, names)
    picked = figures.misclassified_examples(groups, limit=3)
    # Round-robin: one of each confusion before a second of the biggest.
    assert [(true, predicted) for _, true, predicted in picked] == [
        ("a", "b"), ("b", "c"), ("c", "a")]
    np.testing.assert_array_equal(figures.predictions_from_groups(y_true, groups, names), y_pred)
    images = np.zeros((7, 4, 4, 1), np.uint8)
    assert figures.misclassified_grid(images, []) is None
    figure = figures.misclassified_grid(images, picked)
    assert len(figure.axes) == 5  # one row of five, the last two blank
    save_figure(figure, "/dev/null")
