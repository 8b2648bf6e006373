"""The check every detection app's export test makes: ``detect`` called in a
fresh process (``fresh_process.signature_from_fresh_process``) returns the
live model's detections (``DetectionApp.detections``)."""

import numpy as np


def assert_detect_matches_live(fresh, live, class_names=None):
    """``fresh``: the outputs of ``detect``; ``live``: per-image ``(boxes,
    scores, classes)`` after NMS. Same counts (some detections at all), boxes
    to 1e-3 pixels, scores to 1e-5, the same classes, zeros past each count
    and, given ``class_names``, the names of the classes."""
    assert fresh["count"].tolist() == [len(scores) for _, scores, _ in live]
    assert sum(fresh["count"]) > 0
    for index, (boxes, scores, classes) in enumerate(live):
        kept = fresh["count"][index]
        np.testing.assert_allclose(fresh["boxes"][index, :kept], boxes, atol=1e-3)
        np.testing.assert_allclose(fresh["scores"][index, :kept], scores, atol=1e-5)
        np.testing.assert_array_equal(fresh["classes"][index, :kept], classes)
        assert not fresh["boxes"][index, kept:].any()
        if class_names is not None:
            names = [name.decode() for name in fresh["class_names"][index, :kept]]
            assert names == [class_names[c] for c in classes]
