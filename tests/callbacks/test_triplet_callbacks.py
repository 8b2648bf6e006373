"""callbacks.TripletMonitor and callbacks.EmbeddingProjector."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorboard.plugins.projector import ProjectorConfig

from dlsuite.callbacks import EmbeddingProjector, TripletMonitor, triplet_statistics, write_projector
from dlsuite.callbacks.embedding_projector import sprite_image


def _reference_statistics(x, labels, margin):
    n = len(labels)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    active = total = 0
    for a, p, k in itertools.product(range(n), repeat=3):
        if p != a and labels[p] == labels[a] and labels[k] != labels[a]:
            total += 1
            active += d[a, p] - d[a, k] + margin > 0
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    positive = [d[i, j] for i, j in pairs if labels[i] == labels[j]]
    negative = [d[i, j] for i, j in pairs if labels[i] != labels[j]]
    return active / total, np.mean(positive), np.mean(negative)


def test_statistics_match_a_loop_over_triplets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(14, 3)).astype("float32")
    labels = rng.integers(0, 3, 14)
    stats = triplet_statistics(x, labels, margin=0.5)
    active, positive, negative = _reference_statistics(x.astype("float64"), labels, 0.5)
    assert 0 < active < 1
    np.testing.assert_allclose(stats["active_triplets"], active, rtol=1e-9)
    np.testing.assert_allclose(stats["positive_distance"], positive, rtol=1e-5)
    np.testing.assert_allclose(stats["negative_distance"], negative, rtol=1e-5)
    same = (labels[:, None] == labels[None, :]).sum() - 14
    assert len(stats["positive_distances"]) == same // 2
    assert len(stats["positive_distances"]) + len(stats["negative_distances"]) == 14 * 13 // 2


def test_statistics_of_separated_and_of_tripletless_sets():
    x = np.array([[0.0, 0], [0.01, 0], [5, 5], [5.01, 5]], "float32")
    labels = np.array([0, 0, 1, 1])
    assert triplet_statistics(x, labels, margin=0.2)["active_triplets"] == 0.0
    assert triplet_statistics(x, labels, margin=100.0)["active_triplets"] == 1.0
    assert triplet_statistics(x, np.zeros(4), margin=0.2)["active_triplets"] == 0.0
    with pytest.raises(ValueError, match="4 embeddings, 3 labels"):
        triplet_statistics(x, labels[:3])


def _model(output_scale=1.0):
    inputs = keras.Input((2,))
    outputs = keras.layers.Rescaling(output_scale)(keras.layers.Dense(2, use_bias=False)(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    return model


def test_monitor_logs_scalars_histograms_and_collapse(tmp_path, capsys):
    x = np.random.default_rng(1).normal(size=(20, 2)).astype("float32")
    labels = np.arange(20) % 4
    monitor = TripletMonitor(x, labels, margin=0.2, log_dir=tmp_path)
    history = _model().fit(x, x, epochs=2, verbose=0, callbacks=[monitor])
    for name in ("val_active_triplets", "val_positive_distance", "val_negative_distance"):
        assert len(history.history[name]) == 2 and np.isfinite(history.history[name][-1])
    assert monitor.collapsed_epochs == []
    tags = set()
    for path in (tmp_path / "validation").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    assert {"positive_distances", "negative_distances"} <= tags

    collapsed = TripletMonitor(x, labels, collapse_radius=1e-3)
    _model(output_scale=1e-6).fit(x, x, epochs=1, verbose=0, callbacks=[collapsed])
    assert collapsed.collapsed_epochs == [0]
    assert "embeddings collapsed" in capsys.readouterr().out


def test_monitor_validates_its_arguments():
    with pytest.raises(ValueError, match="len\\(x\\)=3, len\\(labels\\)=2"):
        TripletMonitor(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="Received: distance='hamming'"):
        TripletMonitor(np.zeros((3, 2)), [0, 1, 1], distance="hamming")
    monitor = TripletMonitor(np.zeros((50, 2)), np.arange(50) % 2, max_examples=10)
    assert len(monitor.x) == 10


def test_projector_files_load_as_a_projector_config(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (10, 6, 5, 1), dtype=np.uint8)
    x = images.reshape(10, -1).astype("float32")
    inputs = keras.Input((30,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    projector = EmbeddingProjector(images, np.arange(10) % 3, tmp_path, class_names=["a", "b", "c"])
    # The model takes flat vectors: embed those, show the images.
    projector.x = x
    model.fit(x, np.zeros((10, 3)), epochs=1, verbose=0, callbacks=[projector])
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    embedding = config.embeddings[0]
    vectors = np.loadtxt(tmp_path / embedding.tensor_path, delimiter="\t")
    np.testing.assert_allclose(vectors, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert (tmp_path / embedding.metadata_path).read_text().split() == list("abcabcabca")
    assert list(embedding.sprite.single_image_dim) == [5, 6]
    sprite = tf.io.decode_png(tf.io.read_file(str(tmp_path / embedding.sprite.image_path)))
    assert tuple(sprite.shape) == (4 * 6, 4 * 5, 3)
    np.testing.assert_array_equal(sprite.numpy()[6:12, 0:5, 0], images[4, ..., 0])


def test_sprite_and_projector_refuse_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        sprite_image(np.zeros((2, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="exceed"):
        sprite_image(np.zeros((400, 500, 500, 1), np.uint8))
    with pytest.raises(ValueError, match="one label each"):
        write_projector(tmp_path, np.zeros((3, 2)), ["a"])
