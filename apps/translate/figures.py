"""Attention heat maps: which source tokens each output token attended to."""

import numpy as np

from dlsuite.apps.runtime import atomic
from dlsuite.apps.runtime.figures import pyplot as plt
from dlsuite.apps.translate import tokens as tok


def _label(token):
    """A token as a tick label: the space mark shown, never an empty label."""
    if token == " ":
        return "␣"
    return token or "∅"


def trimmed(weights, source_tokens, output_tokens):
    """One example's map without padding: ``(weights (outputs, sources),
    source labels, output labels)``; the outputs end at the end token."""
    sources = [t.decode("utf-8") if isinstance(t, bytes) else t for t in source_tokens]
    outputs = [t.decode("utf-8") if isinstance(t, bytes) else t for t in output_tokens]
    source_count = max(1, sum(1 for t in sources if t != tok.PAD))
    output_count = outputs.index(tok.END) + 1 if tok.END in outputs else len(outputs)
    return (np.asarray(weights)[:output_count, :source_count],
            [_label(t) for t in sources[:source_count]],
            [_label(t) for t in outputs[:output_count]])


def attention_figure(examples, title=None):
    """A grid of heat maps, one per ``(weights, source labels, output labels)``."""
    count = len(examples)
    columns = min(2, count)
    rows = int(np.ceil(count / columns))
    sizes = [(max(3.0, 0.28 * len(s) + 1.5), max(2.5, 0.28 * len(o) + 1.2))
             for _, s, o in examples]
    width = sum(sorted(w for w, _ in sizes)[-columns:])
    height = rows * max(h for _, h in sizes)
    figure, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    for axis in axes.flat[count:]:
        axis.axis("off")
    for axis, (weights, sources, outputs) in zip(axes.flat, examples):
        axis.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(float(weights.max(initial=0)), 1e-6),
                    aspect="auto")
        axis.set_xticks(range(len(sources)), sources, rotation=90, fontsize=7)
        axis.set_yticks(range(len(outputs)), outputs, fontsize=7)
        axis.set_xlabel("source")
        axis.set_ylabel("output")
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def save_png(data, path):
    """Write PNG bytes atomically."""
    with atomic.replacing(path) as partial:
        partial.write_bytes(data)
    return path
