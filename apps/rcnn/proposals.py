"""Selective-search proposals of whole splits, computed once and cached.

``rcnn`` and ``fast`` classify the regions selective search proposes
(:mod:`dlsuite.apps.data.region_proposals`). The search runs on the CPU, outside
any TensorFlow graph, so each split's proposals are computed once and kept
in ``RUN/proposals/<key>.npz`` (or ``proposals_dir``), written atomically;
the key hashes the images and the search settings, so a resumed run,
``dlsuite evaluate`` or ``report`` reads them back, and different images
or settings never share a file. ``dlsuite predict`` runs the same search
on each file before calling the export.
"""

import hashlib
import pathlib

import numpy as np

from dlsuite.apps.data.region_proposals import SEARCH_MODES, SearchSettings, search, search_all
from dlsuite.apps.runtime import atomic

__all__ = ["SEARCH_MODES", "ProposalCache", "SearchSettings", "fingerprint", "search",
           "search_all"]


def fingerprint(images, settings):
    digest = hashlib.sha256()
    images = np.ascontiguousarray(images)
    digest.update(str((images.shape, images.dtype.str, settings.key())).encode())
    digest.update(images.tobytes())
    return digest.hexdigest()[:24]


class ProposalCache:
    """Proposals of image arrays, computed once and kept as ``.npz`` files in
    ``directory`` (None: in memory only)."""

    def __init__(self, directory, settings, say=print):
        self.directory = pathlib.Path(directory) if directory else None
        self.settings = settings
        self.say = say
        self._memory = {}

    def path(self, key):
        return self.directory / f"{key}.npz"

    def get(self, images):
        key = fingerprint(images, self.settings)
        if key in self._memory:
            return self._memory[key]
        found = self._read(key) if self.directory else None
        if found is None:
            found = search_all(images, self.settings, say=self.say)
            if self.directory:
                self.directory.mkdir(parents=True, exist_ok=True)
                with atomic.replacing(self.path(key)) as partial:
                    with open(partial, "wb") as handle:
                        np.savez(handle, boxes=found)
        self._memory[key] = found
        return found

    def _read(self, key):
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                boxes = archive["boxes"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            return None  # unreadable: computed again and rewritten
        if boxes.ndim != 3 or boxes.shape[1:] != (self.settings.max_proposals, 4):
            return None
        return boxes
