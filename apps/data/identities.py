"""Identity splits for verification: train on some identities, evaluate on
identities never seen in training (the one-shot setting).

No labelled face set installs offline (``shared/DATA.md``), so by default the
identities are the classes of a real image set: some digits (or clothing
types) train the embedding, the others are the "new people" that dev and
test verify and identify. A user's identity-per-folder tree (the LFW layout)
is split the same way, its faces first detected, aligned and cropped with
MTCNN when that is installed (:mod:`dlsuite.apps.data.faces`).

The split, by seed: a fraction of the identities with at least two images is
held out; every image of the others is training data; the held-out
identities' images are split in halves, per identity, into dev (where the
verification threshold is calibrated) and test. Identities with a single
image cannot form a same-identity pair and are left out.
"""

import numpy as np

from dlsuite.apps.data import faces, load, splitting
from dlsuite.apps.data.splits import DataSplits
from dlsuite.apps.errors import UsageError

# Record every held-out identity's name in the run up to this many.
NAMES_RECORDED = 50


def split_by_identity(labels, unseen_fraction, seed):
    """``(train, dev, test)`` index arrays and the held-out identities.

    ``round(unseen_fraction * identities)`` identities (at least 2, leaving
    at least 2 for training) among those with two images or more are held
    out by seed.
    """
    labels = np.asarray(labels)
    identities, counts = np.unique(labels, return_counts=True)
    eligible = identities[counts >= 2]
    if len(eligible) < 4:
        raise UsageError(
            f"verification needs at least 4 identities with two images or more (2 to train, "
            f"2 never seen to verify); found {len(eligible)}")
    held_out = int(np.clip(splitting.round_half_up(unseen_fraction * len(eligible)), 2,
                           len(eligible) - 2))
    rng = np.random.default_rng(seed)
    unseen = np.sort(rng.choice(eligible, held_out, replace=False))
    seen = np.setdiff1d(eligible, unseen)
    train = np.flatnonzero(np.isin(labels, seen))
    evaluation = np.flatnonzero(np.isin(labels, unseen))
    # Halves of each held-out identity: "train" of this split is dev.
    dev, _, test = splitting.split_indices(labels[evaluation], 0.0, 0.5, seed)
    return (rng.permutation(train), evaluation[dev], evaluation[test], unseen,
            len(identities) - len(eligible))


def load_identities(name, *, seed=1337, unseen_fraction=0.4, data_dir="", image_size=None,
                    limit=None, detect_faces="auto"):
    """A data set split by identity (see the module docstring).

    Args:
        name: an image set of :func:`dlsuite.apps.data.load` (``mnist5k``,
            ``fashion_mnist``, ``digits``, ``images``).
        seed: the split's seed.
        unseen_fraction: fraction of identities never seen in training.
        data_dir: the user's folder (with ``name="images"``: one sub-folder
            of images per identity).
        image_size: ``(height, width)`` or None for the set's own.
        limit: a seeded, stratified subset of this many images first.
        detect_faces: for ``images``: ``"auto"`` crops faces with MTCNN when
            ``mtcnn`` is installed, ``"on"`` requires it, ``"off"`` uses the
            images whole.

    Returns:
        :class:`DataSplits` whose ``x_train`` holds the training identities
        and ``x_dev`` / ``x_test`` the held-out ones; ``split`` records
        them.
    """
    if not 0.0 < unseen_fraction < 1.0:
        raise UsageError(f"unseen_fraction must be in (0, 1). Received: "
                         f"unseen_fraction={unseen_fraction}")
    detect = name == "images" and (detect_faces == "on" or (
        detect_faces == "auto" and faces.mtcnn_available()))
    skipped = []
    if detect:
        size = tuple(image_size) if image_size is not None else (96, 96)
        x, y, class_names, skipped = faces.load_face_folder(data_dir, size)
        source = (f"your face folder {data_dir} ({len(y):,} faces detected, aligned and cropped "
                  f"to {size[0]}x{size[1]} by MTCNN; {len(skipped)} image(s) without a face "
                  "left out)")
        if limit is not None and limit < len(y):
            kept = splitting.stratified_subset(y, limit, seed)
            x, y = x[kept], y[kept]
    else:
        pooled = load(name, seed=seed, dev_fraction=0.0, test_fraction=0.0, data_dir=data_dir,
                      image_size=image_size, limit=limit)
        if not pooled.is_image:
            raise UsageError(f"verification needs images; {name} is not an image data set")
        x, y, class_names = pooled.x_train, pooled.y_train, pooled.class_names
        source = pooled.source
    train, dev, test, unseen, single = split_by_identity(y, unseen_fraction, seed)
    names = [str(class_names[i]) for i in unseen]
    return DataSplits(
        name=name,
        x_train=x[train], y_train=y[train],
        x_dev=x[dev], y_dev=y[dev],
        x_test=x[test], y_test=y[test],
        class_names=[str(c) for c in class_names],
        source=source,
        split={
            "seed": seed,
            "by": "identity",
            "unseen_fraction": unseen_fraction,
            "sizes": {"train": len(train), "dev": len(dev), "test": len(test)},
            "total": len(y),
            "limit": limit,
            "train_identities": int(len(np.unique(y[train]))),
            "unseen_identities": names[:NAMES_RECORDED],
            "unseen_identity_count": len(names),
            "single_image_identities_left_out": int(single),
            "images_without_face": [str(path) for path in skipped[:NAMES_RECORDED]],
            "images_without_face_count": len(skipped),
            "faces_detected": bool(detect),
        },
    )


# Identity-changing transforms: (name, quarter turns, mirrored).
TRANSFORMS = {
    "rotations": [("rot90", 1, False), ("rot180", 2, False), ("rot270", 3, False)],
    "rotations_flips": [("rot90", 1, False), ("rot180", 2, False), ("rot270", 3, False),
                        ("mirror", 0, True), ("mirror_rot90", 1, True),
                        ("mirror_rot180", 2, True), ("mirror_rot270", 3, True)],
}
# A transformed identity whose mean image correlates this much with an
# existing identity's is that identity (a 0 turned by 180 degrees is a 0).
SAME_IDENTITY_CORRELATION = 0.9


def _correlation(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-12))


def transformed_identities(x, y, class_names, transforms):
    """More training identities: every identity turned and mirrored.

    Few-shot learners on Omniglot made new classes from old ones this way
    (each character rotated by multiples of 90 degrees, Santoro et al.,
    "Meta-Learning with Memory-Augmented Neural Networks", 2016): an
    embedding trained to tell more identities apart generalises better to
    unseen ones. ``transforms`` is ``"rotations"`` (3 more per identity) or
    ``"rotations_flips"`` (7 more). A transformed identity that looks like
    one already there (mean images correlated above
    :data:`SAME_IDENTITY_CORRELATION`: a mirrored 8, a 0 turned upside down)
    joins it instead of becoming a new one. Square images only.

    Returns ``(x, y, class_names, merged)``: the images with their
    transformed copies, the labels (new identities numbered after
    ``class_names``), the extended names, and how many transformed
    identities joined an existing one.
    """
    if x.shape[1] != x.shape[2]:
        raise UsageError(f"extra_identities={transforms} needs square images. Received: "
                         f"{x.shape[1]}x{x.shape[2]}")
    names = list(class_names)
    identities = np.unique(y)
    means = {int(i): x[y == i].astype(np.float64).mean(axis=0) for i in identities}
    images, labels, merged = [x], [y], 0
    for suffix, turns, mirrored in TRANSFORMS[transforms]:
        for identity in identities:
            chosen = x[y == identity]
            turned = np.rot90(chosen[:, :, ::-1] if mirrored else chosen, turns, axes=(1, 2))
            mean = turned.astype(np.float64).mean(axis=0)
            alike = [i for i, m in means.items() if _correlation(mean, m) > SAME_IDENTITY_CORRELATION]
            if alike:
                label, merged = alike[0], merged + 1
            else:
                label = len(names)
                names.append(f"{class_names[identity]} {suffix}")
                means[label] = mean
            images.append(np.ascontiguousarray(turned))
            labels.append(np.full(len(turned), label, y.dtype))
    return np.concatenate(images), np.concatenate(labels), names, merged
