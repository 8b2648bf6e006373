"""The run report: ``report.md`` with its figures, from the run's files."""

import json

from dlsuite.apps.runtime import atomic

from dlsuite.apps.runtime.figures import save_figure, pyplot as plt


def learning_curves(rows, path):
    """Plot every logged metric and its ``val_`` twin against epoch."""
    names = sorted({k for row in rows for k in row
                    if k not in ("epoch", "time") and not k.startswith("val_")})
    if not rows or not names:
        return None
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    epochs = [row["epoch"] + 1 for row in rows]
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, [row.get(name) for row in rows], label=f"train {name}")
        if any(f"val_{name}" in row for row in rows):
            axis.plot(epochs, [row.get(f"val_{name}") for row in rows], label=f"dev {name}")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.tight_layout()
    save_figure(figure, path)
    return path


def _table(evaluation):
    names = sorted({name for values in evaluation.values() for name in values})
    lines = ["| split | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for split, values in evaluation.items():
        cells = [f"{values[n]:.4f}" if n in values else "" for n in names]
        lines.append(f"| {split} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(session, metrics, sections):
    run, config, data = session.run, session.config, session.data
    rows = run.read_history()
    parts = [f"# {session.app.name} run report", ""]
    parts += [
        f"- data: **{data.name}** from {data.source}; split {json.dumps(data.split.get('sizes', {}))}"
        f", seed {data.split.get('seed')}",
        f"- precision `{session.policy}`, {session.replicas} replica(s), "
        f"{len(rows)} epoch(s) trained",
        f"- config: `{json.dumps(config.to_dict(), sort_keys=True)}`",
        "",
        "## Metrics",
        "",
        _table(metrics["evaluation"]),
        "",
    ]
    export = metrics.get("export")
    if export:
        verdict = ""
        if export.get("max_latency_ms"):
            held = "holds" if export["latency_ok"] else "does NOT hold"
            verdict = f" The satisficing metric (latency <= {export['max_latency_ms']} ms) {held}."
        parts += [
            "## Export",
            "",
            f"SavedModel at `{export['path']}` with signatures {export['signatures']}; "
            f"reloaded and matched the Keras model (max abs difference "
            f"{max(export['max_abs_difference'].values()):.2g}). Batch-1 latency "
            f"(median): {export['latency_ms_batch1']:.2f} ms.{verdict}",
            "",
        ]
    figure = learning_curves(rows, run.path / "learning_curves.png")
    if figure:
        parts += ["## Learning curves", "", "![learning curves](learning_curves.png)", ""]
    parts += list(sections)
    parts += ["", f"TensorBoard: `dlsuite tensorboard {run.path}`", ""]
    atomic.write_text(run.report, "\n".join(parts))
    return run.report
