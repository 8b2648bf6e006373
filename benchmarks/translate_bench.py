"""translate: the figures of ``dlsuite train translate``, through the app's own path.

    python -m benchmarks translate                          # everything (about 2 hours, 2 cores)
    python -m benchmarks --only=dates,numbers translate     # some runs (saved runs are kept)
    python -m benchmarks --quick translate                  # tiny sizes: a smoke run

Runs (each trains with ``dlsuite train translate``'s defaults but the corpus,
float32 on one device, stopped by a wall-clock training budget):

* ``dates``: 20 minutes; exact match of the held-out test dates (every
  one of them; target >= 0.99) greedy and with beam search.
* ``numbers``: 20 minutes; sacreBLEU corpus BLEU on the test numbers
  (target >= 90).
* ``catalogs``: 20 minutes; sacreBLEU of greedy decoding, beam 5 with
  alpha 0 and beam 5 with alpha 0.7 on the test messages (target: beam with
  length normalisation beats greedy by >= 0.5 BLEU).
* ``decoding``: the ``catalogs`` run's model (or a short ``numbers`` run's):
  the same beam search (width 5, alpha 0.7) compiled (one ``tf.function``)
  against run eagerly (``tf.while_loop`` outside a graph runs its body as a
  Python loop, token by token), medians of interleaved repeats (target
  >= 3x), one sentence at a time (8 sentences) and in a batch of 64: at
  batch 1 the Python loop's cost per token shows, at 64 (320 hypotheses)
  both spend most of a step in the same output projection; sentences per
  second through the exported SavedModel at beam 1 and 5, batch 1 and 64.
* ``attention_numbers``, ``attention_catalogs``: no attention and dot
  attention, each for the same budget as the additive run of that corpus
  above (trained here if that run is not saved): BLEU for the same
  training time.

Every run records the share of the CPU other processes used while it ran;
figures reached on a busy machine hold a fortiori on a quiet one, a speed
ratio is measured side by side in one run. Heat maps go to
``results/samples/translate_<run>_attention.png``.
"""

import pathlib
import shutil
import statistics
import tempfile
import time

import tensorflow as tf

from dlsuite.apps.runtime import safe_load, training
from benchmarks.common import (CpuShare, KEEP_BEST_DEV_EPOCH, RESULTS, comparable, cpu_share_note,
                               kept_if_failed, merged_runs, result_name, selected_runs,
                               write_result)
from benchmarks.gan_quality_bench import EpochBudget

SAMPLES = RESULTS / "samples"
RUNS = ("dates", "numbers", "catalogs", "decoding", "attention_numbers",
        "attention_catalogs")
TARGETS = {"dates_exact_match": 0.99, "numbers_bleu": 90.0, "beam_over_greedy_bleu": 0.5,
           "compiled_over_eager": 3.0}


def _settings(quick):
    if quick:
        tiny = ["units=16", "embedding_dim=8", "limit=400", "bleu_examples=20",
                "report_examples=30", "attention_examples=2"]
        return {"budget": {"dates": 10, "numbers": 10, "catalogs": 10},
                "overrides": {"dates": tiny, "numbers": tiny, "catalogs": tiny},
                "epochs": 2, "speed_sentences": 8, "speed_repeats": 2, "keep_figures": False}
    return {"budget": {"dates": 20 * 60, "numbers": 20 * 60, "catalogs": 20 * 60},
            "overrides": {"dates": [], "numbers": [], "catalogs": []},
            "epochs": 1000, "speed_sentences": 64, "speed_repeats": 5, "keep_figures": True}


# A run's model, for the decoding run: {"best": path, "export": path, "session": ...}.
_KEPT = {}


def train(corpus, settings, extra=(), keep_as=None, keep_model=False):
    """Train one corpus for its budget: a summary of the run's figures."""
    overrides = [f"corpus={corpus}", KEEP_BEST_DEV_EPOCH, *settings["overrides"][corpus], *extra]
    budget = EpochBudget(settings["budget"][corpus])
    root = pathlib.Path(tempfile.mkdtemp(prefix="translate_bench_"))
    try:
        with CpuShare() as share, kept_if_failed(root / "run", f"translate_bench_{corpus}"):
            start = time.perf_counter()
            session, metrics = training.train(
                "translate", overrides, epochs=settings["epochs"], strategy="default",
                precision_name="float32", run_dir=str(root / "run"), verbose=0,
                extra_callbacks=[budget])
            wall = time.perf_counter() - start
        history = session.run.read_history()
        if keep_as and settings["keep_figures"] and (session.run.path / "attention.png").exists():
            SAMPLES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(session.run.path / "attention.png",
                            SAMPLES / f"translate_{keep_as}_attention.png")
        if keep_model:
            _KEPT.update(best=session.run.best, export=session.run.export, session=session,
                         root=root)
        split = "test" if "test" in metrics else "dev"
        summary = {
            "overrides": overrides, "budget_seconds": settings["budget"][corpus],
            "training_seconds": budget.elapsed, "wall_seconds": wall,
            "epochs": len(history), "other_cpu_share": share.other,
            "data": session.data.source, "sizes": session.data.split["sizes"],
            "tokens": session.data.split.get("tokens"),
            "history": [{k: v for k, v in row.items()
                         if k in ("epoch", "loss", "val_loss", "val_bleu", "val_exact_match")}
                        for row in history],
            "split": split, "decodings": metrics.get(split, {}),
            "dev_worst": metrics.get("dev_worst", [])[:5],
        }
        return summary
    finally:
        if not keep_model:
            shutil.rmtree(root, ignore_errors=True)


def _line(name, summary):
    rows = summary["decodings"]
    text = ", ".join(f"{key} BLEU {row['sacrebleu']:.2f} / exact {row['exact_match']:.4f}"
                     for key, row in rows.items())
    return (f"{name}: {summary['epochs']} epochs in {summary['training_seconds']:.0f} s "
            f"(other processes {summary['other_cpu_share']:.0%} CPU): {text}")


def run_dates(settings):
    summary = train("dates", settings, keep_as="dates")
    exact = max(row["exact_match"] for row in summary["decodings"].values())
    summary["reached"] = exact >= TARGETS["dates_exact_match"]
    print(_line("dates", summary) + f"; target exact match >= 0.99: "
          f"{'met' if summary['reached'] else 'NOT met'}", flush=True)
    return summary


def run_numbers(settings):
    summary = train("numbers", settings, keep_as="numbers")
    bleu = summary["decodings"]["beam"]["sacrebleu"]
    summary["reached"] = bleu >= TARGETS["numbers_bleu"]
    print(_line("numbers", summary) + f"; target BLEU >= 90: "
          f"{'met' if summary['reached'] else 'NOT met'}", flush=True)
    return summary


def run_catalogs(settings):
    summary = train("catalogs", settings, keep_as="catalogs", keep_model=True)
    rows = summary["decodings"]
    gain = rows["beam"]["sacrebleu"] - rows["greedy"]["sacrebleu"]
    summary["beam_over_greedy_bleu"] = gain
    summary["reached"] = gain >= TARGETS["beam_over_greedy_bleu"]
    print(_line("catalogs", summary) + f"; beam (alpha 0.7) - greedy = {gain:+.2f} BLEU "
          f"(target >= +0.5): {'met' if summary['reached'] else 'NOT met'}", flush=True)
    return summary


def run_attention(settings, saved, corpus):
    """none / dot against the saved additive run of ``corpus`` (same budget)."""
    additive = saved.get(corpus)
    if not additive or additive.get("budget_seconds") != settings["budget"][corpus]:
        additive = train(corpus, settings)
    found = {"additive": additive}
    for kind in ("none", "dot"):
        found[kind] = train(corpus, settings, extra=[f"attention={kind}"],
                            keep_as=f"{corpus}_{kind}" if kind == "dot" else None)
    print(f"{corpus}, {settings['budget'][corpus]} s of training each: " + "; ".join(
        f"{kind} BLEU {row['decodings']['beam']['sacrebleu']:.2f} (greedy "
        f"{row['decodings']['greedy']['sacrebleu']:.2f}, {row['epochs']} epochs)"
        for kind, row in found.items()), flush=True)
    return found


def _sentences(count):
    session = _KEPT.get("session")
    pool = list(session.data.x_test if len(session.data.x_test) else session.data.x_dev)
    return [str(t) for t in (pool * (count // max(len(pool), 1) + 1))[:count]]


def _compiled_over_eager(translator, sentences, batch, repeats):
    """The same beam search (width 5, alpha 0.7) over ``sentences`` in
    batches of ``batch``, run eagerly and compiled; interleaved repeats."""
    width, alpha = tf.constant(5), tf.constant(0.7)
    compiled = translator.compiled("beam_texts")
    chunks = [tf.constant(sentences[i:i + batch]) for i in range(0, len(sentences), batch)]

    def eager():
        return [translator.beam_texts(c, width, alpha)[0].numpy() for c in chunks]

    def graph():
        return [compiled(c, width, alpha)[0].numpy() for c in chunks]

    same = all((a == b).all() for a, b in zip(eager(), graph()))
    times = {"eager": [], "compiled": []}
    for _ in range(repeats):  # interleaved: the same machine state for both
        for name, function in (("eager", eager), ("compiled", graph)):
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    ratio = statistics.median(times["eager"]) / statistics.median(times["compiled"])
    return {"sentences": len(sentences), "batch": batch, "eager_seconds": times["eager"],
            "compiled_seconds": times["compiled"], "compiled_over_eager": ratio,
            "same_translations": bool(same)}


def run_decoding(settings):
    if "session" not in _KEPT:
        quick = {**settings, "budget": {**settings["budget"], "numbers": 120}}
        train("numbers", quick, keep_model=True)
    session = _KEPT["session"]
    model = safe_load.load_model(_KEPT["best"])
    translator = session.app.translator(model)
    count, repeats = settings["speed_sentences"], settings["speed_repeats"]
    # One sentence at a time the Python loop's cost per token shows; in a
    # batch of 64 (320 hypotheses) both run the same output projection.
    ratios = {f"batch{batch}": _compiled_over_eager(translator, _sentences(n), batch, repeats)
              for batch, n in ((1, max(count // 8, 1)), (64, count))}
    loaded = tf.saved_model.load(str(_KEPT["export"]))
    throughput = {}
    for beams in (1, 5):
        for batch in (1, 64):
            strings = tf.constant(_sentences(batch))
            call = (lambda: loaded.translate(strings=strings, beam_width=tf.constant(beams),
                                             alpha=tf.constant(0.7))["translations"].numpy())
            call()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
            throughput[f"beam{beams}_batch{batch}"] = batch / statistics.median(times)
    result = {"corpus": session.data.name, "compiled_over_eager": ratios,
              "export_sentences_per_second": throughput,
              "reached": {key: row["compiled_over_eager"] >= TARGETS["compiled_over_eager"]
                          for key, row in ratios.items()}}
    print(f"decoding ({session.data.name} model, beam 5, alpha 0.7), compiled over eager "
          "(target >= 3x): " + "; ".join(
              f"{row['sentences']} sentences in batches of {row['batch']}: eager "
              f"{statistics.median(row['eager_seconds']):.2f} s, compiled "
              f"{statistics.median(row['compiled_seconds']):.3f} s = "
              f"{row['compiled_over_eager']:.1f}x (same output: {row['same_translations']})"
              for row in ratios.values())
          + "; export sentences/s " + ", ".join(f"{k} {v:.1f}" for k, v in throughput.items()),
          flush=True)
    return result


def main(argv):
    quick = "--quick" in argv
    settings = _settings(quick)
    chosen = selected_runs(argv, RUNS)
    name = result_name("translate", quick)
    runs = {}
    try:
        for run in chosen:
            with CpuShare() as share:
                if run.startswith("attention_"):
                    runs[run] = run_attention(settings, merged_runs(name, runs),
                                              run.split("_", 1)[1])
                elif run == "decoding":
                    runs[run] = run_decoding(settings)
                else:
                    runs[run] = {"dates": run_dates, "numbers": run_numbers,
                                 "catalogs": run_catalogs}[run](settings)
            runs[run].update(other_cpu_share=share.other, comparable=comparable(share.other))
            print(f"  ({run}: {cpu_share_note(share.other)})", flush=True)
            write_result(name, {"runs": merged_runs(name, runs), "quick": quick,
                                "targets": TARGETS, "settings": settings})
    finally:
        if "root" in _KEPT:
            shutil.rmtree(_KEPT["root"], ignore_errors=True)
    return runs


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
