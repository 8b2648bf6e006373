"""Shared argument checks of the layers that draw random numbers."""

import keras


def seed_generator(seed):
    """A ``keras.random.SeedGenerator`` for ``seed`` (an int, or None for a
    random seed); ``ValueError`` for anything else."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"`seed` must be an int or None. Received: seed={seed}")
    return keras.random.SeedGenerator(seed)
