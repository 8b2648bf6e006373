"""End to end: `dlsuite train translate` on a few hundred dates, its export,
its defined answers, teacher forcing and the length-bucketed pipeline."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps import registry
from dlsuite.apps.runtime import commands, safe_load, training
from dlsuite.apps.runtime.config import apply_overrides
from dlsuite.apps.errors import UsageError
from dlsuite.apps.translate import tokens as tok
from dlsuite.apps.translate.decoding import Translator
from dlsuite.apps.translate.model import build_translation_model

TINY = ["limit=240", "units=16", "embedding_dim=8", "batch_size=32", "bleu_examples=16",
        "report_examples=24", "attention_examples=2", "worst_examples=3", "patience=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("translate") / "run"
    session, metrics = training.train("translate", TINY, epochs=2, strategy="default",
                                      precision_name="float32", run_dir=str(run_dir), verbose=0)
    return session, metrics


def _texts(values):
    return [v.decode("utf-8") for v in values.numpy()]


def test_train_evaluate_report_and_tensorboard(trained):
    session, metrics = trained
    run = session.run
    history = run.read_history()
    assert len(history) == 2
    for key in ("loss", "val_loss", "token_accuracy", "val_bleu", "val_exact_match"):
        assert np.isfinite(history[-1][key]), key
    assert history[-1]["loss"] < history[0]["loss"]
    test = metrics["test"]
    assert set(test) == {"greedy", "beam_alpha0", "beam"}
    for row in test.values():
        assert 0 <= row["sacrebleu"] <= 100 and row["sentences"] == 24
    assert len(metrics["dev_worst"]) == 3
    worst = [row["sentence_bleu"] for row in metrics["dev_worst"]]
    assert worst == sorted(worst)
    report = run.report.read_text()
    for heading in ("## Translation quality (test", "## Worst dev translations", "## Attention"):
        assert heading in report
    assert (run.path / "attention.png").stat().st_size > 1000
    record = json.loads((run.path / "config.json").read_text())
    assert record["data"]["split"]["tokens"]["mode"] == "char"

    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(str(run.tb / "translations"),
                                                size_guidance={"tensors": 0, "images": 0})
    events.Reload()
    assert "dev_translations" in events.Tags()["tensors"]
    assert len(events.Tensors("dev_translations")) == 2
    assert "| source | reference | output |" in events.Tensors(
        "dev_translations")[-1].tensor_proto.string_val[0].decode()
    assert "attention" in events.Tags()["tensors"] + events.Tags()["images"]


def test_teacher_forcing_feeds_the_target_shifted_by_one(trained):
    session, _ = trained
    app, data = session.app, session.data
    (source, decoder_input), labels, weights = next(iter(
        app.pipeline(data.x_dev, data.y_dev, 8, training=False)))
    targets = ["", tok.UNKNOWN] + app.setup.target_vocabulary
    sources = ["", tok.UNKNOWN] + app.setup.source_vocabulary
    assert source.dtype == decoder_input.dtype == labels.dtype == tf.int64
    for row in range(8):
        target = list(data.y_dev[row])  # dates are read character by character
        fed = [int(i) for i in decoder_input.numpy()[row] if i]
        wanted = [int(i) for i in labels.numpy()[row] if i]
        assert [targets[i] for i in fed] == [tok.START] + target
        assert [targets[i] for i in wanted] == target + [tok.END]
        assert fed[1:] == wanted[:-1], "the decoder reads the target shifted by one"
        np.testing.assert_array_equal(weights.numpy()[row], labels.numpy()[row] != 0)
        assert "".join(sources[i] for i in source.numpy()[row] if i) == data.x_dev[row]


def test_training_batches_are_length_bucketed_and_seeded_by_epoch(trained):
    session, _ = trained
    app, data = session.app, session.data
    epoch = tf.Variable(0, dtype=tf.int64)

    sources = np.array(["", tok.UNKNOWN] + app.setup.source_vocabulary, dtype=object)

    def batches():
        pipeline = app.pipeline(data.x_train, data.y_train, 16, training=True, epoch=epoch)
        return [(s.numpy(), l.numpy()) for (s, _), l, _ in pipeline]

    first, again = batches(), batches()
    epoch.assign(1)
    second = batches()
    assert len(first) == int(np.ceil(len(data.x_train) / 16))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert not all(a[0].shape == b[0].shape and np.array_equal(a[0], b[0])
                   for a, b in zip(first, second))
    seen = sorted("".join(sources[row]) for s, _ in first for row in s)
    assert seen == sorted(data.x_train), "every training pair once an epoch"
    # Padding: a bucketed batch's widest source is close to its narrowest.
    spread = np.mean([np.ptp((s != 0).sum(1)) for s, _ in first])
    shuffled = np.random.default_rng(0).permutation([len(x) for x in data.x_train])
    random_spread = np.mean([np.ptp(shuffled[i:i + 16]) for i in range(0, len(shuffled), 16)])
    assert spread < 0.5 * random_spread


def test_export_in_a_fresh_process_equals_the_live_decoder(trained, tmp_path):
    session, _ = trained
    translator = session.app.translator(session.model)
    texts = [str(t) for t in session.data.x_dev[:4]] + ["", "ꙮꙮ ꙮ", "3 " * 300]
    script = (
        "import json, sys\nimport tensorflow as tf\n"
        "loaded = tf.saved_model.load(sys.argv[1])\nfound = {}\n"
        "for beams in (1, 3):\n"
        "    out = loaded.translate(strings=tf.constant(json.loads(sys.argv[2])),\n"
        "                           beam_width=tf.constant(beams), alpha=tf.constant(0.7))\n"
        "    found[beams] = [[t.decode() for t in out['translations'].numpy()],\n"
        "                    out['scores'].numpy().tolist()]\n"
        "print(json.dumps({'found': found, 'modules': sorted(m for m in ('apps', 'layers', "
        "'losses', 'callbacks') if m in sys.modules)}))\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", script, str(session.run.export),
                           json.dumps(texts)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["modules"] == [], "the server needs none of dlsuite's code"
    for beams in (1, 3):
        live = translator.compiled("translate")(tf.constant(texts), tf.constant(beams),
                                                tf.constant(0.7))
        got_texts, got_scores = served["found"][str(beams)]
        assert got_texts == _texts(live["translations"])
        np.testing.assert_allclose(got_scores, live["scores"].numpy(), rtol=1e-5, atol=1e-6)
    assert got_texts[4] == "" and got_texts[5] == "ꙮꙮ ꙮ"


def test_defined_answers_and_refused_requests(trained):
    session, _ = trained
    loaded = tf.saved_model.load(str(session.run.export))
    limit = session.app.setup.max_source_tokens

    def translate(strings, beams=2, alpha=0.7):
        return loaded.translate(strings=tf.constant(strings, tf.string),
                                beam_width=tf.constant(beams),
                                alpha=tf.constant(alpha, tf.float32))

    out = translate(["", "   ", "ꙮꙮ\tꙮ", "12 mars 1998"])
    assert _texts(out["translations"])[:3] == ["", "", "ꙮꙮ ꙮ"]
    assert out["scores"].numpy()[:3].tolist() == [0.0, 0.0, 0.0]
    assert out["scores"].numpy()[3] < 0
    long_text = "1" * (limit + 4000)
    np.testing.assert_array_equal(translate([long_text])["translations"].numpy(),
                                  translate(["1" * limit])["translations"].numpy())
    for strings, beams, alpha, message in (
            (["x" * 20_000], 2, 0.7, "<= 10000 bytes"),
            ([], 2, 0.7, "empty batch"),
            (["x"], 0, 0.7, "beam_width as a scalar in [1, 64]"),
            (["x"], 65, 0.7, "beam_width as a scalar in [1, 64]"),
            (["x"], 2, -1.0, "alpha as a scalar in [0.0, 5.0]"),
            (["x"], 2, float("nan"), "alpha as a scalar")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("[", r"\[")):
            translate(strings, beams, alpha)
    assert _texts(translate(["12 mars 1998"])["translations"])  # the server survived


def test_one_beam_is_greedy_and_padding_changes_nothing(trained):
    session, _ = trained
    translator = session.app.translator(session.model)
    dev = tf.constant([str(t) for t in session.data.x_dev[:12]])
    greedy = _texts(translator.compiled("greedy_texts")(dev))
    beam_one, _ = translator.compiled("beam_texts")(dev, tf.constant(1), tf.constant(0.7))
    assert greedy == _texts(beam_one)
    alone = translator.compiled("translate")(dev[:1], tf.constant(3), tf.constant(0.7))
    padded = translator.compiled("translate")(
        tf.concat([dev[:1], tf.constant(["Mittwoch, 31. Dezember 2099 " * 2])], 0),
        tf.constant(3), tf.constant(0.7))
    assert _texts(alone["translations"])[0] == _texts(padded["translations"])[0]
    np.testing.assert_allclose(alone["scores"].numpy()[0], padded["scores"].numpy()[0],
                               rtol=1e-5)


def test_best_model_loads_in_safe_mode_and_translates_the_same(trained):
    session, _ = trained
    model = safe_load.load_model(session.run.best)
    dev = tf.constant([str(t) for t in session.data.x_dev[:6]])
    live = session.app.translator(session.model).compiled("translate")
    again = session.app.translator(model).compiled("translate")
    args = (tf.constant(2), tf.constant(0.7))
    assert _texts(live(dev, *args)["translations"]) == _texts(again(dev, *args)["translations"])


def test_predict_translates_texts_and_files(trained, tmp_path):
    session, _ = trained
    lines = tmp_path / "dates.txt"
    lines.write_text("3 mars 1998\n\nTuesday, March 3, 1998\n", encoding="utf-8")
    printed = commands.predict(str(session.run.path), ["12. Mai 1990", str(lines)])
    assert len(printed) == 4
    assert printed[0].startswith("12. Mai 1990 -> ")
    assert printed[1].startswith(f"{lines}:1: 3 mars 1998 -> ")
    assert printed[2] == f"{lines}:2:  -> "


@pytest.mark.parametrize("cell, attention, depth", [("gru", "dot", 2), ("lstm", "none", 1)])
def test_other_architectures_translate_and_map_attention(trained, cell, attention, depth):
    setup = trained[0].app.setup
    model = build_translation_model(setup.source_vocabulary, setup.target_vocabulary, cell=cell,
                                    attention=attention, depth=depth, units=8, embedding_dim=4)
    translator = Translator(model, "char", "char", 20, 6)
    assert translator.attention_kind == attention and len(translator.decoders) == depth
    out = translator.compiled("translate")(tf.constant(["3 mars 1998", ""]), tf.constant(2),
                                           tf.constant(0.5))
    assert out["translations"].shape == (2,) and _texts(out["translations"])[1] == ""
    weights, log_probs, _, _ = translator.compiled("attention")(
        tf.constant(["3 mars 1998"]), tf.constant(["1998"]))
    assert weights.shape == (1, 5, 11) and log_probs.shape == (1, 5)
    if attention == "none":
        assert float(tf.reduce_max(weights)) == 0.0
    else:
        np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-5)
    assert np.all(log_probs.numpy() < 0)


def test_bad_settings_are_usage_errors():
    config = registry.get_app("translate").default_config()
    for override, message in (("corpus=tsv", "needs --set data_dir"),
                              ("beam_width=0", "beam_width must be > 0"),
                              ("beam_width=65", r"beam_width must be in \[1, 64\]"),
                              ("alpha=-1", r"alpha must be in \[0, 5.0\]"),
                              ("attention=luong", "expected one of additive, dot, none"),
                              ("max_target_tokens=1", "max_target_tokens must be >= 2"),
                              ("min_words=5", "max_words must be >= min_words")):
        extra = ["max_words=4"] if override.startswith("min_words") else []
        with pytest.raises(UsageError, match=message):
            apply_overrides(config, [override] + extra)
