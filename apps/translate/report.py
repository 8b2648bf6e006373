"""The translate app's report: BLEU of each decoding, heat maps, worst translations."""

import time

from dlsuite.apps.runtime.figures import figure_to_png
from dlsuite.apps.translate import bleu, figures
from dlsuite.apps.translate.monitor import attention_examples, decode_in_chunks


def decodings(config):
    """``{name: (label, signature name, extra args)}`` the report compares."""
    width = config.beam_width
    return {
        "greedy": ("greedy (keras-hub GreedySampler)", "greedy_texts", ()),
        "beam_alpha0": (f"beam {width}, alpha 0", "beam_texts", (width, 0.0)),
        "beam": (f"beam {width}, alpha {config.alpha}", "beam_texts", (width, config.alpha)),
    }


def score(translator, sources, references, name, extra):
    """Decode ``sources`` with one search; BLEU, exact match, speed and the outputs."""
    import tensorflow as tf

    args = [tf.constant(extra[0], tf.int32), tf.constant(extra[1], tf.float32)] if extra else []
    function = translator.compiled(name)
    start = time.perf_counter()
    outputs = decode_in_chunks(function, sources, 128, *args)
    seconds = time.perf_counter() - start
    return {"sacrebleu": bleu.corpus_bleu(outputs, references),
            "keras_hub_bleu": bleu.keras_hub_bleu(outputs, references),
            "exact_match": bleu.exact_match(outputs, references),
            "sentences": len(sources), "sentences_per_second": len(sources) / seconds}, outputs


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def translation_report(translator, config, data, run):
    """``(metrics, sections)`` of the report."""
    limit = config.report_examples
    metrics, sections = {}, []
    split, sources, references = "test", data.x_test, data.y_test
    if not len(sources):
        split, sources, references = "dev", data.x_dev, data.y_dev
    sources, references = list(sources[:limit]), list(references[:limit])
    results = {}
    if sources:
        lines = [f"## Translation quality ({split}, {len(sources)} sentences)", "",
                 "| decoding | sacreBLEU | keras-hub Bleu x 100 | exact match | sentences/s |",
                 "|---|---|---|---|---|"]
        for key, (label, name, extra) in decodings(config).items():
            results[key], _ = score(translator, sources, references, name, extra)
            row = results[key]
            lines.append(f"| {label} | {row['sacrebleu']:.2f} | {row['keras_hub_bleu']:.2f} | "
                         f"{row['exact_match']:.4f} | {row['sentences_per_second']:.1f} |")
        lines += ["", "sacreBLEU: corpus BLEU with its defaults (13a tokens, exp smoothing), the "
                  "reported figure; keras-hub's `Bleu` is the in-training metric "
                  "(`val_bleu`). Sentences per second: the compiled search, batches of 128, "
                  "in this process.", ""]
        sections += lines
        metrics[split] = results
    dev_sources = list(data.x_dev[:limit])
    dev_references = list(data.y_dev[:limit])
    if dev_sources:
        label, name, extra = decodings(config)["beam"]
        dev_scores, outputs = score(translator, dev_sources, dev_references, name, extra)
        metrics["dev"] = {"beam": dev_scores}
        sentence = bleu.sentence_bleus(outputs, dev_references)
        worst = sorted(range(len(outputs)), key=lambda i: (sentence[i], i))[:config.worst_examples]
        metrics["dev_worst"] = [{"source": dev_sources[i], "reference": dev_references[i],
                                 "output": outputs[i], "sentence_bleu": sentence[i]}
                                for i in worst]
        sections += [f"## Worst dev translations ({label}, by sentence BLEU)", "",
                     "| sentence BLEU | source | reference | output |", "|---|---|---|---|",
                     *[f"| {sentence[i]:.1f} | {_cell(dev_sources[i])} | "
                       f"{_cell(dev_references[i])} | {_cell(outputs[i])} |" for i in worst], ""]
        shown = min(config.attention_examples, len(dev_sources))
        if translator.attention_kind != "none" and shown:
            examples = attention_examples(translator, dev_sources[:shown], outputs[:shown])
            png = figure_to_png(figures.attention_figure(
                examples, title=f"{config.attention} attention, dev examples ({label})"))
            figures.save_png(png, run.path / "attention.png")
            sections += ["## Attention", "",
                         f"What each output token (rows) attended to in the source (columns), "
                         f"{config.attention} attention, for the first {shown} dev sentences "
                         "(TensorBoard's Images tab has them every epoch).", "",
                         "![attention](attention.png)", ""]
    return metrics, sections
