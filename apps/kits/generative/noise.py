"""Noise that is the same whether a batch runs on one replica or on N.

A ``SeedGenerator`` under ``MirroredStrategy`` gives every replica the same
draws (each replica holds a copy of the same seed state), and a local
``(local_batch, dim)`` draw differs from a single device's
``(global_batch, dim)`` draw. Here every replica draws the GLOBAL batch's
noise from a stateless function of ``(seed, step, stream)`` and keeps its own
rows. ``MirroredStrategy`` splits a global batch into contiguous per-replica
slices, so replica ``r`` of ``N`` gets exactly the rows a single device would
have used for those examples, and one replica and N replicas take the same
step. Drawing N times the noise is negligible beside the networks.
"""

import tensorflow as tf


def replica_noise(local_batch, dim, seed, step, stream=0):
    """Standard-normal ``(local_batch, dim)`` float32 noise for this replica.

    Args:
        local_batch: Scalar int tensor, the replica's batch size.
        dim: Python int, the noise width, or a tuple of ints (the shape of
            one example's noise, e.g. ``(height, width, 1)``).
        seed: Python int, the model's noise seed.
        step: Scalar int tensor, changes every training step (an optimizer's
            ``iterations``).
        stream: Python int in ``[0, 8)``, separates draws made in the same
            step (e.g. the discriminator's and the generator's).
    """
    return _replica_rows(tf.random.stateless_normal, local_batch, dim, seed, step, stream)


def replica_uniform(local_batch, dim, seed, step, stream=0):
    """Uniform ``[0, 1)`` float32 values, drawn like :func:`replica_noise`
    (for per-example random choices, e.g. StyleGAN's style mixing)."""
    return _replica_rows(tf.random.stateless_uniform, local_batch, dim, seed, step, stream)


def _replica_rows(draw, local_batch, dim, seed, step, stream):
    if not 0 <= stream < 8:
        raise ValueError(f"stream must be in [0, 8). Received: stream={stream}")
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one "replica" holds everything
        replicas, replica_id = 1, 0
    else:
        replicas = context.num_replicas_in_sync
        replica_id = context.replica_id_in_sync_group
    inner = [dim] if isinstance(dim, int) else list(dim)
    local_batch = tf.cast(local_batch, tf.int32)
    replica_id = tf.cast(replica_id, tf.int32)
    step = tf.cast(step, tf.int64)
    seeds = tf.stack([tf.constant(seed, tf.int64), step * 8 + stream])
    everything = draw(tf.concat([[local_batch * replicas], tf.constant(inner, tf.int32)], 0),
                      seed=seeds, dtype=tf.float32)
    start = replica_id * local_batch
    return everything[start : start + local_batch]
