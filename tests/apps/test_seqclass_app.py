"""End-to-end tests of the seqclass app: train, report, export, classify, predict."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from dlsuite.apps.seqclass import (SeqClassConfig, build_classifier, finite_padded, stack_frames,
                           stack_frames_in_graph, unstack_frames)
from tests.apps.fresh_process import value_from_fresh_process
from tests.apps.tiny_runs import train_tiny

TINY = ["dataset=japanese_vowels", "limit=150", "units=8", "batch_size=16", "patience=0"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    return train_tiny("seqclass", TINY, 2, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(trained_run):
    return tf.saved_model.load(str(trained_run[2] / "export"))


def _classify(loaded, series, lengths):
    return loaded.classify(tf.constant(series, tf.float32), tf.constant(lengths, tf.int32))


def test_run_writes_the_ml_strategy_report(trained_run):
    session, metrics, run_dir = trained_run
    assert {"train", "dev", "test"} <= set(metrics["evaluation"])
    assert metrics["single_number_metric"] == "macro-F1"
    report = (run_dir / "report.md").read_text()
    for expected in ("## ML strategy", "Confusion matrix", "Error analysis", "Learning curves"):
        assert expected in report
    assert (run_dir / "confusion_matrix.png").stat().st_size > 1000
    names = [layer.name for layer in session.model.layers]
    assert names[1:5] == ["standardize", "padding_mask", "bidirectional_gru_0", "dropout_0"]


def test_classify_matches_the_model_and_ignores_what_lies_past_each_length(trained_run, loaded):
    session, _, _ = trained_run
    x, lengths = session.data.x_test[:6], session.data.lengths_test[:6]
    assert len(set(lengths)) > 1  # varying lengths in the batch
    expected = session.model.predict(x, verbose=0)
    got = _classify(loaded, finite_padded(x), lengths)
    np.testing.assert_allclose(got["probabilities"].numpy(), expected, atol=1e-5)
    # Garbage after each series' end changes nothing.
    noisy = np.where(np.isnan(x), 1e3, x)
    np.testing.assert_allclose(_classify(loaded, noisy, lengths)["probabilities"].numpy(),
                               expected, atol=1e-5)
    # A shorter length is another series: the answer moves.
    shorter = _classify(loaded, finite_padded(x), np.maximum(lengths - 4, 1))
    assert not np.allclose(shorter["probabilities"].numpy(), expected, atol=1e-4)
    names = [n.decode() for n in got["class_name"].numpy()]
    assert names == [session.data.class_names[i] for i in got["class_index"].numpy()]


def test_classify_in_a_fresh_process_equals_the_live_model(trained_run, tmp_path):
    session, _, run_dir = trained_run
    x, lengths = session.data.x_test[:4], session.data.lengths_test[:4]
    np.save(tmp_path / "x.npy", finite_padded(x))
    np.save(tmp_path / "lengths.npy", lengths.astype(np.int32))
    call = ("value = loaded.classify(tf.constant(np.load('x.npy')), "
            "tf.constant(np.load('lengths.npy')))['probabilities'].numpy()")
    served = value_from_fresh_process(run_dir / "export", call, cwd=tmp_path)
    assert served["dlsuite_modules"] == []
    np.testing.assert_allclose(served["value"], session.model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize("series_shape, lengths, message", [
    ((2, 29, 12), [3, 30], "every length <= the steps of series"),
    ((2, 29, 12), [0, 3], "value below 1"),
    ((2, 29, 12), [3], "one length per series"),
    ((2, 29, 5), [3, 3], "series as float32 \\(batch, any, 12\\)"),
    ((29, 12), [3], "another rank"),
    ((0, 29, 12), [], "empty batch"),
])
def test_classify_bad_inputs_are_clear_errors(loaded, series_shape, lengths, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _classify(loaded, np.zeros(series_shape, np.float32), np.array(lengths, np.int32))


def test_classify_refuses_nan(loaded):
    series = np.zeros((1, 5, 12), np.float32)
    series[0, 2, 3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        _classify(loaded, series, [5])


def test_predict_reads_a_long_csv(trained_run, tmp_path):
    session, _, run_dir = trained_run
    path = tmp_path / "speakers.csv"
    rows = ["series," + ",".join(f"c{i}" for i in range(12))]
    for index in range(2):
        length = session.data.lengths_test[index]
        for step in session.data.x_test[index, :length]:
            rows.append(f"utterance{index}," + ",".join(f"{v:.6f}" for v in step))
    path.write_text("\n".join(rows) + "\n")
    lines = commands.predict(str(run_dir), [str(path)])
    assert len(lines) == 2
    for line in lines:
        assert line.split(": ")[1].split(" (p=")[0] in session.data.class_names
    wide = tmp_path / "wide.csv"
    wide.write_text("1,2,3\n4,5\n")
    with pytest.raises(UsageError, match="wide.csv: classify expects series as float32 "
                                         "\\(batch, any, 12\\)"):
        commands.predict(str(run_dir), [str(wide)])


@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("rnn", True)])
def test_other_cells_build_and_mask(cell, bidirectional):
    config = SeqClassConfig(cell=cell, bidirectional=bidirectional, units=4, depth=2)
    model = build_classifier(config, 3, 4, np.zeros(3), np.ones(3))
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype("float32")
    padded = np.concatenate([x, np.full((2, 3, 3), np.nan, "float32")], axis=1)
    np.testing.assert_allclose(np.asarray(model(padded)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize("override, message", [
    ("cell=tcn", "cell"),
    ("units=0", "units must be > 0"),
    ("dataset=csv", "data_dir"),
    ("limit=3", "limit must be >= 10"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(SeqClassConfig(), [override])


def test_frames_stack_steps_the_same_way_in_numpy_and_in_the_export_graph():
    x = np.arange(2 * 7 * 2, dtype=np.float32).reshape(2, 7, 2)
    x[1, 5:] = np.nan
    framed = stack_frames(x, 3)
    assert framed.shape == (2, 3, 6)
    np.testing.assert_array_equal(framed[0, 1], x[0, 3:6].reshape(-1))
    assert np.isnan(framed[0, 2, 2:]).all() and not np.isnan(framed[0, 2, :2]).any()
    np.testing.assert_array_equal(np.asarray(stack_frames_in_graph(tf.constant(x), 3)), framed)
    np.testing.assert_array_equal(unstack_frames(framed, 3, 2)[:, :7], x)
