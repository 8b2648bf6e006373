"""End-to-end tests of the charlm app: train, evaluate, export, reload, generate, score."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.charlm import (CharLMConfig, character_ids, evaluation_texts, streams, window_texts,
                         windows)
from dlsuite.apps.charlm.generation import LanguageModelFunctions
from dlsuite.apps.charlm.model import build_language_model, compile_language_model
from dlsuite.apps.data import text as text_data
from dlsuite.apps.runtime import commands
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from tests.apps.fresh_process import value_from_fresh_process
from tests.apps.tiny_runs import train_tiny

TINY = ["corpus=names", "limit=60", "units=16", "embedding_dim=8", "sequence_length=16",
        "batch_size=16", "sample_length=30", "patience=0"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    return train_tiny("charlm", TINY, 2, tmp_path_factory)


@pytest.fixture(scope="module")
def loaded(trained_run):
    return tf.saved_model.load(str(trained_run[2] / "export"))


def _generate(signature_owner, prompt, length, temperature, seed):
    return signature_owner.generate(tf.constant(prompt), tf.constant(length, tf.int32),
                                    tf.constant(temperature, tf.float32),
                                    tf.constant(seed, tf.int64)).numpy().decode("utf-8")


def test_run_reports_bits_per_character_samples_and_the_score_check(trained_run):
    session, metrics, run_dir = trained_run
    for split in ("train", "dev", "test"):
        values = metrics["evaluation"][split]
        assert values["bits_per_character"] == pytest.approx(values["loss"] / math.log(2), 1e-5)
    assert metrics["export"]["signatures"] == ["score", "generate"]
    report = (run_dir / "report.md").read_text()
    for temperature in ("0.5", "0.8", "1.0"):
        assert f"Temperature {temperature}:" in report
        assert metrics["samples"][temperature].startswith(metrics["sample_prompt"])
    assert "The exported `score` on the test windows" in report
    # The report's score of the test windows is the evaluated test loss.
    assert metrics["score_of_test_windows"]["nats_per_character"] == pytest.approx(
        metrics["evaluation"]["test"]["loss"], abs=1e-5)
    record = json.loads((run_dir / "config.json").read_text())
    assert record["data"]["class_names"] == session.model.get_layer("vocabulary").get_vocabulary()[1:]


def test_tensorboard_text_tab_has_samples_every_epoch(trained_run):
    _, _, run_dir = trained_run
    steps = set()
    for path in (run_dir / "tb" / "validation").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == "samples":
                    steps.add(event.step)
                    text = tf.make_ndarray(value.tensor).item().decode()
                    assert "Temperature 0.5" in text and "Temperature 1.0" in text
    assert steps == {0, 1}


def test_reloaded_score_reproduces_the_test_figure(trained_run, loaded):
    session, metrics, _ = trained_run
    texts = window_texts(session.data.x_test, session.config.sequence_length)
    nats = loaded.score(tf.constant(texts)).numpy()
    assert nats.shape == (len(texts),)
    assert float(nats.mean()) == pytest.approx(metrics["evaluation"]["test"]["loss"], abs=1e-5)


def test_generate_in_a_fresh_process_equals_the_live_model(trained_run, tmp_path):
    session, _, run_dir = trained_run
    live = LanguageModelFunctions(session.model).sample("Ma", 40, 0.8, seed=7)
    call = ("value = loaded.generate(tf.constant('Ma'), tf.constant(40), tf.constant(0.8), "
            "tf.constant(7, tf.int64)).numpy()")
    served = value_from_fresh_process(run_dir / "export", call, cwd=tmp_path)
    assert served["dlsuite_modules"] == []
    assert served["value"] == live
    assert len(live) == 42 and live.startswith("Ma")


def test_generate_defined_answers(trained_run, loaded):
    session, _, _ = trained_run
    vocabulary = set(session.data.class_names)
    # The same seed, the same text; another seed, another text.
    first = _generate(loaded, "Jo", 30, 1.0, 3)
    assert first == _generate(loaded, "Jo", 30, 1.0, 3)
    assert first != _generate(loaded, "Jo", 30, 1.0, 4)
    # Temperature 0 is greedy: the seed does not matter.
    assert _generate(loaded, "Jo", 30, 0.0, 3) == _generate(loaded, "Jo", 30, 0.0, 99)
    # Length 0 returns the prompt; an empty prompt starts a new line.
    assert _generate(loaded, "Jo", 0, 0.8, 1) == "Jo"
    empty = _generate(loaded, "", 25, 0.8, 1)
    assert len(empty) == 25 and set(empty) <= vocabulary
    # Characters never seen in training: read as out-of-vocabulary, never generated.
    unknown = _generate(loaded, "Jo☃§", 25, 0.8, 1)
    assert unknown.startswith("Jo☃§") and set(unknown[4:]) <= vocabulary
    assert len(unknown) == 29


@pytest.mark.parametrize("prompt, length, temperature, message", [
    ("Jo", 5, -0.5, "temperature as a scalar in \\[0.0, 100.0\\]"),
    ("Jo", -1, 0.5, "length as a scalar in \\[0, 10000\\]"),
    ("Jo", 5, float("nan"), "temperature as a scalar .*NaN or inf"),
    (["Jo", "Al"], 5, 0.5, "prompt as one string"),
])
def test_generate_bad_inputs_are_clear_errors(loaded, prompt, length, temperature, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _generate(loaded, prompt, length, temperature, 0)


def test_score_bad_inputs_are_clear_errors(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="2 or more characters"):
        loaded.score(tf.constant(["Anna", "J"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty batch"):
        loaded.score(tf.constant([], tf.string))
    with pytest.raises(tf.errors.InvalidArgumentError, match="1-D batch"):
        loaded.score(tf.constant("Anna"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="<= 10000 bytes"):
        loaded.score(tf.constant(["x" * 10_001]))


def test_score_prefers_text_like_the_corpus(loaded):
    nats = loaded.score(tf.constant(["Maria\nAnna\nJohn\n", "qzxq\nxqzq\nzxxq\n"])).numpy()
    assert nats[0] < nats[1]


def test_predict_scores_and_continues_each_file(trained_run, tmp_path):
    _, _, run_dir = trained_run
    path = tmp_path / "names.txt"
    path.write_text("Mary\nJohn\nAnna\n")
    (line,) = commands.predict(str(run_dir), [str(path)])
    assert line.startswith(f"{path}: ") and "nats/char" in line and "bits/char" in line
    nats = float(line.split(": ")[1].split(" nats")[0])
    assert 0 < nats < 10
    single = tmp_path / "one.txt"
    single.write_text("M")
    with pytest.raises(UsageError, match="fewer than 2 characters"):
        commands.predict(str(run_dir), [str(single)])


def test_windows_are_contiguous_text_and_targets_are_the_next_characters():
    corpus = "".join(np.random.default_rng(0).choice(list("abcdefghij \n"), 201))
    vocabulary = text_data.character_vocabulary(corpus)
    ids = character_ids(text_data.code_points(corpus), vocabulary)
    starts = []
    for inputs, targets in windows(ids, 10, 4, vocabulary, training=True, seed=1):
        for row_in, row_out in zip(inputs.numpy(), targets.numpy()):
            chars = "".join(c.decode() for c in row_in)
            starts.append(corpus.find(chars))  # a contiguous piece, never shuffled characters
            start = starts[-1]
            np.testing.assert_array_equal(row_out, ids[start + 1:start + 11])
    # Every window once, 10 apart (each character a target once), in shuffled order.
    assert sorted(starts) == list(range(0, 200, 10))
    assert starts != sorted(starts)
    assert window_texts(text_data.code_points(corpus), 10)[3] == corpus[30:41]
    # Evaluation keeps the order.
    first = next(iter(windows(ids, 10, 4, vocabulary, training=False)))[0].numpy()[0]
    assert "".join(c.decode() for c in first) == corpus[:10]


@pytest.mark.parametrize("cell, options", [("gru", {"reset_after": False}), ("rnn", {}),
                                           ("lstm", {"unroll": True})])
def test_score_equals_the_keras_loss_for_every_cell(cell, options):
    """The step-by-step score (cells in a while loop) computes what the
    Keras layers compute on the whole window."""
    vocabulary = list("abcdefgh\n")
    model = build_language_model(vocabulary, cell=cell, depth=2, units=8, embedding_dim=4,
                                 sequence_length=12 if options.get("unroll") else None,
                                 **options)
    compile_language_model(model, keras.optimizers.Adam())
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(vocabulary, 13)) for _ in range(5)]
    chars = np.array([list(t[:-1]) for t in texts], dtype=object)
    targets = np.array([character_ids(text_data.code_points(t[1:]), vocabulary) for t in texts])
    batch = tf.data.Dataset.from_tensors((tf.constant(chars.astype(str)), targets))
    loss = model.evaluate(batch, verbose=0, return_dict=True)["loss"]
    scored = LanguageModelFunctions(model).compiled("score")(tf.constant(texts)).numpy()
    assert float(scored.mean()) == pytest.approx(loss, abs=1e-5)


@pytest.mark.parametrize("override, message", [
    ("cell=transformer", "cell"),
    ("depth=0", "depth must be > 0"),
    ("dropout=1.5", "dropout must be in"),
    ("sequence_length=1", "sequence_length must be >= 2"),
    ("corpus=text", "data_dir"),
    ("epoch_windows=0", "epoch_windows must be >= 1"),
    ("stateful=true,epoch_windows=10", "a stateful model reads its streams in order"),
])
def test_bad_settings_are_usage_errors(override, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(CharLMConfig(), override.split(","))


def test_evaluation_spreads_a_sample_of_windows_evenly():
    corpus = "".join(np.random.default_rng(1).choice(list("abcdefghij \n"), 1001))
    vocabulary = text_data.character_vocabulary(corpus)
    ids = character_ids(text_data.code_points(corpus), vocabulary)
    batches = list(windows(ids, 10, 100, vocabulary, training=False, spread=5))
    first = ["".join(c.decode() for c in row) for row in batches[0][0].numpy()]
    assert [corpus.find(row) for row in first] == [0, 250, 500, 740, 990]


def test_a_stateful_model_reads_streams_and_score_reproduces_its_evaluation():
    corpus = "".join(np.random.default_rng(2).choice(list("abcdefgh \n"), 400))
    vocabulary = text_data.character_vocabulary(corpus)
    points = text_data.code_points(corpus)
    ids = character_ids(points, vocabulary)
    config = CharLMConfig(corpus="names", stateful=True, batch_size=3, sequence_length=8)
    model = build_language_model(vocabulary, units=8, embedding_dim=4, sequence_length=8,
                                 stateful_batch_size=3)
    compile_language_model(model, keras.optimizers.Adam())
    data = streams(ids, 8, 3, vocabulary)
    # Batch j holds window j of each of the 3 streams of 133 characters.
    second = next(iter(data.skip(1)))[0].numpy()
    assert ["".join(c.decode() for c in row) for row in second] == [
        corpus[s * 133 + 8:s * 133 + 16] for s in range(3)]
    first = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    # Every evaluate starts from zero states: the same figure again.
    assert model.evaluate(data, verbose=0, return_dict=True)["loss"] == pytest.approx(first, 1e-6)
    texts = evaluation_texts(points, config)
    assert [len(t) for t in texts] == [16 * 8 + 1] * 3
    scored = LanguageModelFunctions(model).compiled("score")(tf.constant(texts)).numpy()
    assert float(scored.mean()) == pytest.approx(first, abs=1e-5)
    # The state did carry over: windows scored each from zero give another figure.
    windowed = LanguageModelFunctions(model).compiled("score")(
        tf.constant(window_texts(points[:3 * 133], 8))).numpy()
    assert abs(float(windowed.mean()) - first) > 1e-4
