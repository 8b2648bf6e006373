"""The curriculum's optimizers as Keras optimizers.

Batch, stochastic and mini-batch gradient descent are one optimizer
(``keras.optimizers.SGD``) with three batch sizes: the whole training set,
one example, or ``batch_size``. Momentum, Adagrad, RMSprop and Adam are
Keras's own. The mapping between the curriculum's formulas and Keras's
parameterisation is in ``tests/runtime/test_optimizer_formulas.py``.
"""

import math

import keras


def make_optimizer(config):
    name, lr = config.optimizer, config.learning_rate
    if name in ("batch_gd", "sgd", "minibatch_gd"):
        return keras.optimizers.SGD(learning_rate=lr)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum)
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    raise ValueError(f"Unknown optimizer. Received: optimizer={name!r}")


def per_replica_batch_size(config, num_train, num_replicas=1):
    """The batch size per replica that ``config.optimizer`` implies."""
    if config.optimizer == "batch_gd":
        return max(1, math.ceil(num_train / num_replicas))
    if config.optimizer == "sgd":
        return 1
    return config.batch_size


def compile_options(config):
    """The ``compile`` arguments every app takes from its config."""
    return {
        "jit_compile": config.jit_compile,
        "steps_per_execution": config.steps_per_execution,
    }
