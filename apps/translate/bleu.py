"""BLEU: sacreBLEU for the reported figure, keras-hub's ``Bleu`` in training.

The reported figure is sacreBLEU's corpus BLEU (``sacrebleu.corpus_bleu``,
its defaults: the ``13a`` tokenizer, exponential smoothing, 0..100), the
standard a paper's number is comparable with. Every epoch the dev BLEU is
measured with keras-hub's ``keras_hub.metrics.Bleu`` (a Keras metric, its
state a sum of n-gram counts over batches), times 100.

With one reference per sentence and every n-gram order matched somewhere in
the corpus, the two agree (``tests/apps/test_translate_bleu.py``). They
differ:

* with several references: keras-hub's brevity penalty takes each
  sentence's *shortest* reference length, sacreBLEU the length *closest*
  to the hypothesis (ties to the shorter);
* when an n-gram order has no match in the whole corpus: keras-hub scores
  0 (``smooth=False``) or adds 1 to every order's counts (``smooth=True``,
  Lin and Och's), sacreBLEU's default ``exp`` smoothing gives the k-th
  empty order a precision of ``1 / (2^k * total)``;
* in scale (0..1 against 0..100).
"""

import keras_hub
import numpy as np
import sacrebleu


def corpus_bleu(hypotheses, references):
    """sacreBLEU's corpus BLEU (0..100) of hypotheses against one reference each."""
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def sentence_bleus(hypotheses, references):
    """sacreBLEU's sentence BLEU (0..100) of each hypothesis."""
    return [float(sacrebleu.sentence_bleu(h, [r]).score) for h, r in zip(hypotheses, references)]


def keras_hub_bleu(hypotheses, references):
    """keras-hub's ``Bleu`` (0..1) x 100, one reference each."""
    if not any(h.strip() for h in hypotheses):
        return 0.0  # keras-hub divides by the hypotheses' length
    metric = keras_hub.metrics.Bleu()
    metric.update_state(np.array([[r] for r in references], dtype=object),
                        np.array(list(hypotheses), dtype=object))
    return float(metric.result()) * 100.0


def exact_match(hypotheses, references):
    """The share of hypotheses equal to their reference."""
    pairs = list(zip(hypotheses, references))
    return sum(h == r for h, r in pairs) / max(len(pairs), 1)


def as_text(values):
    """A string tensor or array -> a list of ``str``."""
    values = values.numpy() if hasattr(values, "numpy") else values
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
