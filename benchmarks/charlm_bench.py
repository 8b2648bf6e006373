"""charlm: Shakespeare nats per character in 20 minutes, the three cells side
by side, our LSTM step against PyTorch's, and where our step's time goes.

    python -m benchmarks charlm                       # everything (~50 min)
    python -m benchmarks --only=shakespeare charlm    # the 20-minute run alone
    python -m benchmarks --only=cells,pytorch,profile charlm
    python -m benchmarks --quick charlm               # 20-second budgets on 200k characters

Runs:

- ``shakespeare``: ``dlsuite train charlm`` (2 x 256 LSTM, 100-character
  windows, batch 128) through the app's normal path for a 20-minute
  training budget (``TimeBudget``: Adam's rate annealed by a cosine over the
  budget, then stop; tracing counted), then the test split's nats per
  character. Target <= 1.6 (2.31 bits). An epoch is 8,000 windows, so the
  learning curve (dev loss against training time) has a point every ~minute;
  it is saved beside the results.
- ``cells``: LSTM, GRU and SimpleRNN of the same size (2 x 256) for the same
  3-minute budget each: test bits per character and training characters
  per second.
- ``pytorch``: the train step of our 2 x 256 LSTM model against the same
  model written with ``torch.nn.LSTM`` (``benchmarks/charlm_torch_lstm.py``,
  a child process), same batch, sequence length and units, float32, on one
  repeated random batch; rounds alternate the two, and the figure is the
  median of the per-round ratios of characters per second (target >= 1.0).
- ``profile``: TensorFlow's profiler on our step, kernel time by op type
  (``benchmarks/profile_ops.py``); benchmarks/README.md explains it.

Every run records the CPU share other processes used.
"""

import statistics
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from dlsuite.apps.charlm.model import build_language_model, compile_language_model
from dlsuite.apps.runtime import training
from benchmarks import torch_child
from benchmarks.cnn_accuracy_bench import TimeBudget
from benchmarks.common import (CpuShare, RESULTS, comparable, merged_runs, result_name,
                               selected_runs, temporary_run, write_result)

MINUTES = 60
MODEL = ["cell=lstm", "depth=2", "units=256", "embedding_dim=64", "sequence_length=100",
         "batch_size=128", "learning_rate=0.002", "steps_per_execution=8",
         "epoch_windows=8000", "patience=0"]
TARGET_NATS = 1.6
RUNS = ("shakespeare", "cells", "pytorch", "profile", "variants")
SPEED = {"batch": 128, "length": 100, "units": 256, "depth": 2, "embedding_dim": 64}


def train_within(overrides, budget, quick):
    """Train charlm for ``budget`` seconds through the app; its figures."""
    if quick:
        overrides = overrides + ["limit=1600", "epoch_windows=400"]
    budget_callback = TimeBudget(budget)
    with temporary_run("charlm_bench") as run_dir, CpuShare() as share:
        session, metrics = training.train(
            "charlm", overrides, epochs=1000, strategy="default", precision_name="float32",
            run_dir=run_dir, extra_callbacks=[budget_callback], verbose=0)
        history = session.run.read_history()
    # Keras calls batch callbacks once per steps_per_execution steps.
    windows = (budget_callback.steps * session.config.steps_per_execution
               * session.batch_size()[1])
    test = metrics["evaluation"]["test"]
    return {
        "overrides": overrides, "test_nats_per_character": test["loss"],
        "test_bits_per_character": test["bits_per_character"],
        "dev_nats_per_character": metrics["evaluation"]["dev"]["loss"],
        "score_of_test_windows": metrics["score_of_test_windows"]["nats_per_character"],
        "training_seconds": budget_callback.elapsed, "budget_seconds": budget,
        "tracing_seconds": budget_callback.tracing_seconds,
        "characters_per_second": windows * session.config.sequence_length
        / max(budget_callback.elapsed, 1e-9),
        "characters_seen": windows * session.config.sequence_length,
        "parameters": session.model.count_params(), "samples": metrics["samples"],
        "curve": [{"minutes": row["time"] / 60, "dev_nats": row.get("val_loss"),
                   "train_nats": row.get("loss")} for row in history],
        "data": session.data.source, "other_cpu_share": share.other,
        "comparable": comparable(share.other),
    }


def learning_curve_figure(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = result["curve"]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    minutes = [row["minutes"] for row in curve]
    axis.plot(minutes, [row["train_nats"] for row in curve], label="train (epoch mean)")
    axis.plot(minutes, [row["dev_nats"] for row in curve], label="dev")
    axis.axhline(TARGET_NATS, color="grey", linestyle="--", label=f"target {TARGET_NATS}")
    axis.set_xlabel("training minutes (2-core CPU)")
    axis.set_ylabel("nats per character")
    axis.set_title(f"charlm 2x256 LSTM on Shakespeare: test {result['test_nats_per_character']:.3f}")
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def shakespeare(quick):
    budget = 20 if quick else 20 * MINUTES
    result = train_within(list(MODEL), budget, quick)
    result.update(target_nats=TARGET_NATS,
                  reached=result["test_nats_per_character"] <= TARGET_NATS)
    if not quick:
        learning_curve_figure(result, RESULTS / "samples" / "charlm_shakespeare_learning_curve.png")
    print(f"charlm shakespeare: test {result['test_nats_per_character']:.4f} nats/char "
          f"({result['test_bits_per_character']:.4f} bits) after "
          f"{result['training_seconds'] / 60:.1f} min, {result['characters_per_second']:.0f} "
          f"chars/s; target <= {TARGET_NATS}: {'reached' if result['reached'] else 'NOT reached'}"
          f"; other processes used {result['other_cpu_share']:.0%} of the CPU", flush=True)
    return result


def cells(quick):
    budget = 20 if quick else 3 * MINUTES
    found = {}
    for cell in ("lstm", "gru", "rnn"):
        overrides = [o for o in MODEL if not o.startswith("cell=")] + [f"cell={cell}"]
        found[cell] = train_within(overrides, budget, quick)
        found[cell].pop("curve")
        print(f"charlm {cell}: test {found[cell]['test_bits_per_character']:.3f} bits/char, "
              f"{found[cell]['characters_per_second']:.0f} chars/s, "
              f"{found[cell]['parameters']:,} parameters ({budget / 60:.0f} min; other "
              f"processes {found[cell]['other_cpu_share']:.0%})", flush=True)
    return found


def repeated_batch(vocabulary, batch, length, seed=0):
    rng = np.random.default_rng(seed)
    characters = np.array(vocabulary)[rng.integers(0, len(vocabulary), (batch, length))]
    targets = rng.integers(1, len(vocabulary) + 1, (batch, length))
    return tf.data.Dataset.from_tensors((characters, targets)).repeat()


def our_model(vocabulary):
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    model = build_language_model(vocabulary, "lstm", SPEED["depth"], SPEED["units"],
                                 SPEED["embedding_dim"])
    return compile_language_model(model, keras.optimizers.Adam(2e-3), steps_per_execution=8)


def our_rate(vocabulary, steps):
    model = our_model(vocabulary)
    data = repeated_batch(vocabulary, SPEED["batch"], SPEED["length"])
    model.fit(data, steps_per_epoch=16, epochs=1, shuffle=False, verbose=0)  # trace, warm up
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return steps * SPEED["batch"] * SPEED["length"] / (time.perf_counter() - start)


VOCABULARY = [chr(code) for code in range(32, 116)]  # 84 characters, Shakespeare's count


def pytorch(quick):
    rounds, steps = (1, 8) if quick else (5, 48)
    ours, theirs = [], []
    settings = {**SPEED, "vocabulary": len(VOCABULARY) + 1, "warmup": 3, "repeats": 1,
                "steps": steps, "variants": [["eager float32", False, False]]}
    with CpuShare() as share:
        for _ in range(rounds):
            ours.append(our_rate(VOCABULARY, steps))
            child = torch_child.run("benchmarks.charlm_torch_lstm", settings, "PyTorch LSTM")
            if child is None or "error" in child or "error" in child["eager float32"]:
                return {"skipped": "torch is not installed or failed", "child": child}
            theirs.append(child["eager float32"]["characters_per_second"])
    ratio = statistics.median(a / b for a, b in zip(ours, theirs))
    result = {"ours_characters_per_second": ours, "pytorch_characters_per_second": theirs,
              "ratio_ours_over_pytorch": ratio, "target_ratio": 1.0, "reached": ratio >= 1.0,
              "settings": SPEED, "other_cpu_share": share.other,
              "comparable": comparable(share.other)}
    print(f"charlm speed: ours {statistics.median(ours):.0f} chars/s, PyTorch nn.LSTM "
          f"{statistics.median(theirs):.0f} chars/s; ours/PyTorch {ratio:.2f} (target >= 1.0: "
          f"{'met' if ratio >= 1.0 else 'NOT met'}); other processes used {share.other:.0%}",
          flush=True)
    return result


def profile(quick):
    from benchmarks.profile_ops import op_seconds_by_type

    steps = 4 if quick else 16
    model = our_model(VOCABULARY)
    data = repeated_batch(VOCABULARY, SPEED["batch"], SPEED["length"])
    model.fit(data, steps_per_epoch=16, epochs=1, shuffle=False, verbose=0)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        start = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
        wall = time.perf_counter() - start
        tf.profiler.experimental.stop()
        totals = op_seconds_by_type(logdir)
    everything = sum(totals.values())
    print(f"charlm profile: {1000 * wall / steps:.0f} ms per step (traced), "
          f"{1000 * everything / steps:.0f} ms of kernel time summed over threads")
    for op, seconds in totals.most_common(14):
        print(f"  {op:28s} {seconds / everything:6.1%}  {1000 * seconds / steps:8.2f} ms/step")
    return {"ms_per_step": 1000 * wall / steps,
            "kernel_ms_per_step": {op: 1000 * s / steps for op, s in totals.most_common(30)}}


def variants(quick):
    from benchmarks import charlm_lstm_variants

    with CpuShare() as share:
        result = charlm_lstm_variants.measure(quick)
    times = result["ms_per_step"]
    sizes = result["sizes"]
    print(f"charlm LSTM stack ({sizes['depth']} x {sizes['units']}, batch {sizes['batch']} x "
          f"{sizes['length']} steps, forward + backward, float32), median ms per step:")
    for name, ms in times.items():
        agreement = result["agreement_with_keras"].get(name)
        checked = (f"  (gradients within {agreement['gradient_relative_to_largest']:.1e} of "
                   "Keras's)" if agreement else "")
        print(f"  {name:26s} {ms:7.1f} ms  {times['keras'] / ms:5.2f}x Keras's speed{checked}",
              flush=True)
    print(f"  (other processes used {share.other:.0%} of the CPU)", flush=True)
    return {**result, "other_cpu_share": share.other,
            "comparable": comparable(share.other)}


def main(argv):
    quick = "--quick" in argv
    results = {}
    for name in selected_runs(argv, RUNS):
        results[name] = globals()[name](quick)
    name = result_name("charlm", quick)
    write_result(name, {"runs": merged_runs(name, results), "quick": quick})
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
