"""The face app's report: verification, identification, figures, collapse check."""

import numpy as np

from dlsuite.apps.face import figures, verification
from dlsuite.callbacks.triplet_monitor import collapse_message, triplet_statistics


def _table(rows):
    lines = ["| split | pairs | accuracy | ROC AUC | EER | false accepts | false rejects |",
             "|---|---|---|---|---|---|---|"]
    for split, values in rows.items():
        lines.append(f"| {split} | {values['pairs']} | {values['accuracy']:.4f} | "
                     f"{values['roc_auc']:.4f} | {values['eer']:.4f} | "
                     f"{values['false_accept_rate']:.4f} | {values['false_reject_rate']:.4f} |")
    return "\n".join(lines)


def _trained(split):
    text = f"{split.get('train_identities')} identities trained"
    extra = split.get("extra_identities")
    if extra:
        kind = "rotations and mirror images" if extra == "rotations_flips" else "rotations"
        text += (f" (the training classes and their {kind}; {split.get('identities_merged', 0)} "
                 "look-alikes joined the identity they look like)")
    return text


def face_report(app, model, config, data, run):
    """``(metrics, sections)`` of a trained embedding model (see ``App.report``)."""
    from dlsuite.apps.face import calibrate

    dev = calibrate(model, data.x_dev, data.y_dev, config)
    test = calibrate(model, data.x_test, data.y_test, config, seed_offset=1)
    threshold = dev["threshold"]
    results = {
        "dev": verification.verification(dev["distances"], dev["same"], threshold),
        "test": verification.verification(test["distances"], test["same"], threshold),
    }
    curves = {split: verification.roc(values["distances"], values["same"])
              for split, values in (("dev", dev), ("test", test))}
    identification = verification.identification(
        test["embeddings"], data.y_test, threshold, config.distance,
        trials=config.identification_trials, seed=config.seed)
    stats = triplet_statistics(test["embeddings"], data.y_test, config.margin, config.distance)
    monitor = getattr(app, "triplet_monitor", None)
    collapsed_epochs = [epoch + 1 for epoch in monitor.collapsed_epochs] if monitor else []
    collapsed = stats["max_distance"] < config.collapse_radius
    metrics = {
        "verification": {**results, "threshold": threshold, "distance": config.distance},
        "identification": identification,
        "test_triplets": {k: stats[k] for k in ("active_triplets", "positive_distance",
                                                "negative_distance", "max_distance")},
        "collapsed": bool(collapsed),
        "collapsed_epochs": collapsed_epochs,
        "unseen_identities": data.split.get("unseen_identities"),
    }

    figures.roc_figure(curves, run.path / "roc.png")
    curves_per_epoch = figures.dev_curves_figure(run.read_history(), run.path / "dev_curves.png")
    figures.histogram_figure(test["distances"], test["same"], threshold,
                             run.path / "distances.png")
    accepts, rejects = verification.worst_errors(test["distances"], test["same"], threshold)
    errors = figures.error_pairs_figure(data.x_test, data.y_test, data.class_names,
                                        test["first"], test["second"], test["distances"],
                                        accepts, rejects, run.path / "errors.png")

    unseen = data.split.get("unseen_identities") or []
    shown = ", ".join(unseen[:10]) + (" ..." if len(unseen) > 10 else "")
    sections = [
        "## Verification (identities never seen in training)", "",
        f"Held-out identities: {data.split.get('unseen_identity_count', len(unseen))} "
        f"({shown}); {_trained(data.split)}. The threshold "
        f"**{threshold:.4f}** ({config.distance} distance) was calibrated on dev pairs (best "
        "accuracy) and is applied unchanged to test pairs; it is inside the export's `verify`.",
        "", _table(results), "",
        "![ROC curves](roc.png)", "",
        *(["![dev verification per epoch](dev_curves.png)", ""] if curves_per_epoch else []),
        "![pair distance histograms](distances.png)", "",
        "## One-shot identification", "",
        f"A gallery of one test image per identity ({identification['n_way']}-way), every other "
        f"test image a query, {identification['trials']} random galleries:", "",
        "| metric | value |", "|---|---|",
        f"| {identification['n_way']}-way accuracy (nearest gallery image) | "
        f"{identification['accuracy']:.4f} |",
        f"| who_is_it right (nearest and within the threshold) | "
        f"{identification['open_set_accuracy']:.4f} |",
        f"| stranger answered \"unknown\" (own identity removed from the gallery) | "
        f"{identification['unknown_rejection']:.4f} |", "",
        "## Triplets on test", "",
        f"Active triplets (loss > 0 at margin {config.margin}): "
        f"{stats['active_triplets']:.4f}; mean distance of same-identity pairs "
        f"{stats['positive_distance']:.4f}, of different-identity pairs "
        f"{stats['negative_distance']:.4f}.", "",
    ]
    if errors is not None:
        sections += ["## Error analysis: worst false accepts and false rejects (test)", "",
                     f"{len(accepts)} false accepts (different identities at the smallest "
                     f"distances) and {len(rejects)} false rejects (same identity at the largest "
                     "distances); what they share says what the embedding misses.", "",
                     "![worst errors](errors.png)", ""]
    if collapsed or collapsed_epochs:
        sections += ["**Warning: " + collapse_message(stats["max_distance"],
                                                      config.collapse_radius)
                     + (f" (during training at epochs {collapsed_epochs})" if collapsed_epochs
                        else "") + ".**", ""]
    return metrics, sections
