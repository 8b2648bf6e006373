"""The curriculum's optimizers as Keras optimizers.

Batch, stochastic and mini-batch gradient descent are one optimizer
(``keras.optimizers.SGD``) with three batch sizes: the whole training set,
one example, or ``batch_size``. Momentum, Adagrad, RMSprop and Adam are
Keras's own. ``make_optimizer`` passes ``config.learning_rate`` and
``config.momentum`` straight through, so they are Keras's parameters.

Mapping, curriculum (Ng's notation) -> Keras argument. ``tests/runtime/
test_optimizer_formulas.py`` checks each row, step by step, on a toy problem.

=================  ===========================  ==============================
curriculum         Keras                        notes
=================  ===========================  ==============================
gradient descent   SGD(learning_rate=alpha)     exact
alpha, beta        SGD(learning_rate=           exact; Keras's slot is
(momentum)           alpha * (1 - beta),        -alpha v_dW. learning_rate=
                     momentum=beta)             alpha is the variant without
                                                (1 - beta): 1/(1 - beta) larger
alpha, beta2, eps  RMSprop(learning_rate=alpha, s_dW starts at 0 in both.
(RMSprop)            rho=beta2, epsilon=...)    Keras: dW / sqrt(s + epsilon),
                                                eps INSIDE the root; equal to
                                                the curriculum's
                                                dW / (sqrt(s) + eps) only with
                                                eps = epsilon = 0
alpha, eps         Adagrad(learning_rate=alpha, Keras's s_dW starts at
(Adagrad)            initial_accumulator_value  initial_accumulator_value
                     =0.0, epsilon=...)         (default 0.1, not 0); epsilon
                                                inside the root, as RMSprop
alpha, beta1,      Adam(learning_rate=alpha,    Keras folds the bias
beta2, eps (Adam)    beta_1=beta1,              correction into
                     beta_2=beta2,              alpha_t = alpha
                     epsilon=                   * sqrt(1 - beta2^t)
                     eps*sqrt(1 - beta2^t))     / (1 - beta1^t) and keeps the
                                                uncorrected v_dW, s_dW; exact
                                                at every t only with eps = 0,
                                                a fixed epsilon being the
                                                curriculum's eps_t =
                                                epsilon / sqrt(1 - beta2^t)
=================  ===========================  ==============================

Keras's defaults are not the curriculum's zero-epsilon forms: RMSprop and
Adam use epsilon=1e-7, Adagrad epsilon=1e-7 and initial_accumulator_value=0.1.
"""

import math

import keras


def learning_rate_schedule(config, train_size):
    """``config.learning_rate`` under the config's ``lr_schedule``.

    ``"constant"`` (or a config without the field) is the rate itself;
    ``"cosine"`` warms up linearly from 0 for ``warmup_epochs`` and then
    anneals to 1% of the rate at the end of the run
    (``keras.optimizers.schedules.CosineDecay``), counting the steps the
    optimizer's batch size makes of ``train_size`` examples.
    """
    if getattr(config, "lr_schedule", "constant") == "constant":
        return config.learning_rate
    steps = max(1, math.ceil(train_size / per_replica_batch_size(config, train_size)))
    warmup = int(config.warmup_epochs * steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate, decay_steps=max(1, config.epochs * steps - warmup),
        alpha=0.01, warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)


def make_optimizer(config, learning_rate=None):
    """``config.optimizer`` as a Keras optimizer, at ``learning_rate`` (a
    number or a schedule; default ``config.learning_rate``)."""
    name = config.optimizer
    lr = config.learning_rate if learning_rate is None else learning_rate
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
