"""PNG figures, one way for every app: matplotlib on its Agg backend.

Reports and TensorBoard image loggers draw with ``pyplot`` from here (the
backend is chosen once, before pyplot is first imported, so no app needs a
display) and write with :func:`save_figure` or :func:`figure_to_png`, which
close the figure so a long run does not accumulate them.
"""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as pyplot  # noqa: E402

DPI = 80


def save_figure(figure, path, dpi=DPI):
    """Write ``figure`` to ``path`` as a PNG and close it."""
    figure.savefig(path, dpi=dpi)
    pyplot.close(figure)


def figure_to_png(figure, dpi=DPI):
    """PNG bytes of ``figure`` (closed afterwards), for TensorBoard's Images tab."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    pyplot.close(figure)
    return buffer.getvalue()
