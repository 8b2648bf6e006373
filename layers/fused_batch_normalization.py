"""``FusedBatchNormalization``: Keras's batch norm, run as one fused kernel.

Keras 3's ``BatchNormalization`` computes the batch moments and the
normalization as separate element-wise ops, in float32 even under a
bfloat16 or float16 policy (it casts the activations up and back down).
On the TensorFlow backend each of those is a pass over the activation
tensor; TensorFlow's profiler puts them (``Mul``, ``Sum``, ``Mean``,
``SquaredDifference``, ``Tile``, ``Sub`` and, in bfloat16, ``Cast``) at
10-25% of a ResNet-50 train step on a CPU (benchmarks/README.md). TensorFlow
has the whole forward and backward pass as single oneDNN kernels
(``FusedBatchNormV3`` and its gradient) that read and write the activations
in their own dtype while keeping the statistics in float32 -- the op tf.keras
(Keras 2) used by default.

This layer is ``keras.layers.BatchNormalization`` -- same arguments,
weights, config and results -- that calls that fused op where it applies:
the TensorFlow backend, 4-D channels-last inputs (``axis=-1``), no mask, and
no cross-replica synchronization to do (``synchronized=False``, or a single
replica in sync). Everywhere else, including other backends, it runs
Keras's own code unchanged, so it is a drop-in replacement.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlsuite")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that uses TensorFlow's fused kernel.

    Args: those of ``keras.layers.BatchNormalization`` (``axis``,
    ``momentum``, ``epsilon``, ``center``, ``scale``, the initializers,
    regularizers and constraints, ``synchronized``). The moving variance is
    updated with the biased batch variance, as Keras does (the fused op
    returns the unbiased one; it is rescaled by ``(n - 1) / n``).

    Example:

    ```python
    x = keras.layers.Conv2D(64, 3)(inputs)
    x = FusedBatchNormalization()(x)      # instead of keras.layers.BatchNormalization()
    ```
    """

    def _fusable(self, inputs, mask):
        if keras.backend.backend() != "tensorflow" or mask is not None:
            return False
        if len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return False
        if self.synchronized:
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                return False
        return True

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = inputs
        if x.dtype not in (tf.float16, tf.bfloat16, tf.float32):
            x = tf.cast(x, tf.float32)
        channels = x.shape[-1]
        scale = self.gamma if self.scale else tf.ones((channels,), tf.float32)
        offset = self.beta if self.center else tf.zeros((channels,), tf.float32)
        scale, offset = tf.cast(scale, tf.float32), tf.cast(offset, tf.float32)
        if training and self.trainable:
            outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, epsilon=self.epsilon, data_format="NHWC", is_training=True)
            count = tf.cast(tf.size(x) // channels, tf.float32)
            variance = unbiased_variance * tf.maximum(count - 1.0, 0.0) / count
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32), epsilon=self.epsilon,
                data_format="NHWC", is_training=False)
        return ops.cast(outputs, self.compute_dtype)
