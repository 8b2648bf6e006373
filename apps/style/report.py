"""The style run's report: figures, the final costs against their yardsticks."""

import json

import numpy as np

from dlsuite.apps.style import WEIGHTS_FILE, figures
from dlsuite.apps.style.export import make_stylize
from dlsuite.apps.style.models import to_float_images


def _floats(terms):
    return {name: float(np.mean(np.asarray(value))) for name, value in terms.items()}


def _weights_lines(run):
    path = run.path / WEIGHTS_FILE
    info = json.loads(path.read_text()) if path.exists() else {}
    if info.get("source") == "random":
        return info, [f"**Warning:** {info['warning']}.", ""]
    if info:
        return info, [f"Feature network: VGG trunk from {info['source']}; {info['layers_loaded']} "
                      "convolutions loaded and read back.", ""]
    return info, []


def _cost_lines(final, references, by_layer):
    fall = references["style_cost_of_content"] / max(final["style_cost"], 1e-30)
    share = final["content_cost"] / max(references["content_cost_of_style"], 1e-30)
    layers = [f"| style cost of `{name}` alone (unweighted) | {value:.4g} |"
              for name, value in by_layer.items()]
    return {"style_cost_fall": fall, "content_cost_share": share,
            "style_cost_by_layer": by_layer}, [
        "| cost (per-layer normalisation) | value |", "|---|---|",
        f"| style cost of the result | {final['style_cost']:.4g} |", *layers,
        f"| style cost of the content image itself (where optimisation starts) | "
        f"{references['style_cost_of_content']:.4g} |",
        f"| **style cost fall** | **{fall:.1f}x** |",
        f"| content cost of the result | {final['content_cost']:.4g} |",
        f"| content cost of the style image itself | {references['content_cost_of_style']:.4g} |",
        f"| **content cost share** (result / style image) | **{share:.3f}** |",
        f"| total variation of the result | {final['total_variation']:.4g} |", ""]


def optimize_report(model, config, data, run):
    content = data.content_image[None]
    activations = [t.value for t in model.content_targets]
    final = _floats(model.measured_terms(model.generated.value, activations))
    references = _floats(model.reference_terms(content, data.style_image))
    by_layer = _floats(model.layer_style_costs(model.generated.value))
    result = model.result().numpy()[0]
    figures.save_png(result, run.path / "result.png")
    figures.side_by_side([("content", data.content_image), ("style", data.style_image),
                          ("result", result)], run.path / "side_by_side.png")
    ratios, table = _cost_lines(final, references, by_layer)
    steps = int(model.role_optimizers["model"].iterations.numpy())
    sections = ["## Style transfer", "",
                f"{steps} optimisation steps of a {result.shape[1]}x{result.shape[0]} image "
                f"from the {config.init} image; alpha={config.alpha}, beta={config.beta}, "
                f"tv_weight={config.tv_weight}, style normalisation `{config.style_normalization}`."
                " The result is `result.png`.", "",
                "![content, style, result](side_by_side.png)", "", *table]
    return {"final": final, "references": references, **ratios, "steps": steps}, sections


def fast_report(model, config, data, run):
    stylize = make_stylize(model, config.max_pixels)
    pairs = [(name, photo, stylize(photo[None]).numpy()[0]) for name, photo in data.test_photos]
    figures.photo_grid(pairs, run.path / "heldout.png")
    name, photo, stylized = pairs[0]
    figures.side_by_side([(f"content ({name})", photo), ("style", data.style_image),
                          ("stylized", stylized)], run.path / "side_by_side.png")
    figures.save_png(stylized, run.path / "result.png")
    photos = to_float_images(data.x_test)
    activations = [a for a in model.activations(photos)["content"]]
    outputs = model(photos)
    final = _floats(model.measured_terms(outputs, activations))
    references = _floats(model.reference_terms(data.x_test, data.style_image))
    ratios, table = _cost_lines(final, references, _floats(model.layer_style_costs(outputs)))
    names = ", ".join(name for name, _, _ in pairs)
    sections = ["## Fast stylizer", "",
                f"Held-out photos ({names}), never seen in training, stylised by one forward "
                "pass of the exported `stylize` function; costs are the means over them at "
                f"{config.image_size}x{config.image_size}.", "",
                "![held-out photos stylised](heldout.png)", "",
                "![content, style, stylized](side_by_side.png)", "", *table]
    return {"heldout": {"final": final, "references": references, **ratios,
                        "photos": [name for name, _, _ in pairs]}}, sections


def report(model, config, data, run):
    info, lines = _weights_lines(run)
    if config.mode == "optimize":
        metrics, sections = optimize_report(model, config, data, run)
    else:
        metrics, sections = fast_report(model, config, data, run)
    curves = figures.cost_curves(figures.read_costs(run.path), run.path / "cost_curves.png")
    if curves:
        sections += ["## Cost curves", "", f"Every {config.image_every} optimizer steps "
                     "(TensorBoard: `step/*` scalars and the images).", "",
                     "![cost curves](cost_curves.png)", ""]
    return {"style": metrics, "feature_weights": info}, lines + sections
