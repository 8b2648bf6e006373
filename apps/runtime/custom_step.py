"""One shared base for models that override ``train_step`` (GAN, VAE, Siamese,
style transfer): :class:`MultiOptimizerModel`.

Published ``train_step`` overrides tend to break in the same four places.
This base fixes them once:

* **Global-batch reduction.** Each loss is a per-example vector, reduced with
  ``tf.nn.compute_average_loss``: sum over the replica's examples divided by
  the GLOBAL batch. Gradients are then summed across replicas, so one replica
  and N replicas take the same step. A plain ``reduce_mean`` inside a replica
  would make the step N times too large.
* **Loss scaling.** Under ``mixed_float16`` every optimizer (a GAN has two)
  is wrapped in ``keras.optimizers.LossScaleOptimizer`` and the step
  minimises ``optimizer.scale_loss(loss)``; without it small float16
  gradients underflow to zero and training silently stalls.
* **Optimizers built up front,** in the strategy scope, against the
  variables each one updates. An optimizer that first builds its slots inside
  the distributed ``train_step`` is what makes a plain DCGAN fail under
  ``MirroredStrategy`` (keras-team/keras#19246).
* **Everything else ``fit`` expects:** a ``test_step``, one
  ``keras.metrics.Mean`` per logged term (reset every epoch by Keras because
  they are listed in ``metrics``), ``training=True`` passed down by the
  step, and a config for ``.keras`` saving.

A subclass names its optimizer *roles* and says, per role, which variables
it updates and which per-example terms it computes::

    class TinyGAN(MultiOptimizerModel):
        roles = ("discriminator", "generator")
        logged_terms = {"discriminator": ("d_real", "d_fake")}

        def role_variables(self, role):
            net = self.discriminator if role == "discriminator" else self.generator
            return net.trainable_variables

        def shared_forward(self, data, training):  # optional
            return {"fake": self.generator(noise, training=training)}

        def compute_terms(self, role, data, training, shared=None):
            ...  # every sub-model call gets training=training
            return {"loss": per_example_loss, "d_real": per_example_prob}

    gan.compile(optimizers={"discriminator": keras.optimizers.Adam(2e-4),
                            "generator": keras.optimizers.Adam(2e-4)})

Roles train in order within a step, each against the variables the roles
before it have just updated. Forward work they have in common (a GAN's
generated batch) can go in ``shared_forward``: it runs once per step, and a
later role's gradient still flows through it, because one tape records the
whole step.

A gradient penalty on a role's inputs (R1, WGAN-GP) takes its nested
gradient with ``self.input_gradient(role, network, inputs)`` inside
``compute_terms``: loss-scaled under mixed_float16 like the outer step.

The logged name of a role's ``"loss"`` is ``"loss"`` for a one-role model and
``"<role>_loss"`` otherwise; other terms are logged under their own names.
"""

import keras
import tensorflow as tf


class MultiOptimizerModel(keras.Model):
    """Base class of custom-``train_step`` models with one optimizer per role."""

    roles = ("model",)
    # Extra per-example terms each role reports, beside its "loss".
    logged_terms = {}

    # -- what subclasses implement ------------------------------------------
    def role_variables(self, role):
        """The trainable variables the optimizer of ``role`` updates."""
        raise NotImplementedError

    def compute_terms(self, role, data, training, shared=None):
        """Return ``{"loss": per_example_loss, **other_per_example_terms}``.

        Every tensor has shape ``(local_batch,)`` and is float32. Pass
        ``training`` to every sub-model call. ``shared`` is what
        ``shared_forward`` returned for this step (``None`` by default).
        """
        raise NotImplementedError

    def shared_forward(self, data, training):
        """Forward work every role uses, computed once per step (optional).

        The result reaches each role's ``compute_terms`` as ``shared``. A role
        that must not train through it (a discriminator on generated images)
        applies ``tf.stop_gradient`` itself.
        """
        return None

    # -- compile / build ------------------------------------------------------
    def compile(self, optimizers=None, optimizer=None, **kwargs):
        """Compile with ``optimizers={role: optimizer}`` (or one ``optimizer``
        for a one-role model). Under ``mixed_float16`` each is loss-scaled."""
        if optimizers is None:
            if optimizer is None:
                raise ValueError("compile() needs `optimizers={role: optimizer}`.")
            optimizers = {self.roles[0]: optimizer}
        missing = set(self.roles) - set(optimizers)
        extra = set(optimizers) - set(self.roles)
        if missing or extra:
            raise ValueError(
                f"optimizers must have one entry per role {self.roles}. "
                f"Received: optimizers keys={sorted(optimizers)}"
            )
        scale = keras.config.dtype_policy().name == "mixed_float16"
        self.role_optimizers = {}
        for role in self.roles:
            opt = keras.optimizers.get(optimizers[role])
            if scale and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                opt = keras.optimizers.LossScaleOptimizer(opt)
            self.role_optimizers[role] = opt
        kwargs.pop("loss", None)
        super().compile(
            optimizer=self.role_optimizers[self.roles[0]],
            auto_scale_loss=False,
            **kwargs,
        )
        self._trackers = {}
        for role in self.roles:
            for term in ("loss",) + tuple(self.logged_terms.get(role, ())):
                name = self._log_name(role, term)
                if name not in self._trackers:
                    self._trackers[name] = keras.metrics.Mean(name=name)

    def build_optimizers(self):
        """Create every optimizer's slots now, in the current strategy scope.

        The runtime calls this after building the model. Needs the model's
        variables to exist (call the model or ``build`` it first).
        """
        for role, opt in self.role_optimizers.items():
            if not opt.built:
                opt.build(self.role_variables(role))
        # The sub-models hold every variable; fit() needs the flag set.
        self.built = True

    # -- .keras saving ------------------------------------------------------------
    def get_compile_config(self):
        """Every role's optimizer (Keras alone would record only the first)."""
        if not getattr(self, "role_optimizers", None):
            return None
        return {"optimizers": {role: keras.saving.serialize_keras_object(opt)
                               for role, opt in self.role_optimizers.items()}}

    def compile_from_config(self, config):
        optimizers = {role: keras.saving.deserialize_keras_object(opt)
                      for role, opt in config["optimizers"].items()}
        self.compile(optimizers=optimizers)
        self.build_optimizers()

    @property
    def metrics(self):
        return list(getattr(self, "_trackers", {}).values())

    def _log_name(self, role, term):
        if term != "loss":
            return term
        return "loss" if len(self.roles) == 1 else f"{role}_loss"

    def _track(self, role, terms):
        for term, values in terms.items():
            name = self._log_name(role, term)
            if name in self._trackers:
                self._trackers[name].update_state(values)

    # -- gradient penalties ------------------------------------------------------
    def input_gradient(self, role, function, inputs):
        """``d function(inputs)[i] / d inputs[i]`` for each example ``i``, in
        float32, for a gradient penalty (R1, WGAN-GP) on ``role``'s network
        inside ``compute_terms``. ``function`` returns one value per example
        (any shape ``(batch, ...)``, summed per example).

        It is taken with a tape of its own while the step's tape records, so
        a penalty built on it is differentiated again with respect to the
        role's weights (a nested gradient); under ``MirroredStrategy`` each
        replica takes it for its own examples, which is all a per-example
        penalty needs. The outputs are reduced as the step reduces a loss
        (over the global batch) and, under ``mixed_float16``, multiplied by
        the role's current loss scale, so that the float16 backward pass
        carries each example's gradient at the magnitude it carries the
        outer loss's: small gradients do not underflow, and the scale
        adapts to this pass too, since an overflow makes the penalty
        non-finite, and the role's ``LossScaleOptimizer`` then skips the
        step and lowers the scale as for any other overflow. The gradient is
        rescaled to the plain per-example one afterwards.
        """
        inputs = tf.convert_to_tensor(inputs)
        optimizer = self.role_optimizers[role]
        scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        batch = tf.shape(inputs)[0]
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = tf.cast(function(inputs), tf.float32)
            per_example = tf.reduce_sum(tf.reshape(outputs, [batch, -1]), axis=1)
            total = tf.nn.compute_average_loss(per_example)
            if scaled:
                total = optimizer.scale_loss(total)
        factor = tf.cast(batch * replicas, tf.float32)
        if scaled:
            # scale_loss(1) is the current scale (the dynamic one once built).
            factor = factor / tf.cast(optimizer.scale_loss(tf.constant(1.0)), tf.float32)
        return tf.cast(tape.gradient(total, inputs), tf.float32) * factor

    # -- steps ------------------------------------------------------------------
    def train_step(self, data):
        # One tape records the whole step, so a role's gradient flows through
        # the shared forward pass made before the first role trained. Each
        # role's gradient is taken and applied with recording paused; the
        # next role's forward pass reads the variables just updated.
        with tf.GradientTape(persistent=True) as tape:
            shared = self.shared_forward(data, training=True)
            for role in self.roles:
                opt = self.role_optimizers[role]
                terms = self.compute_terms(role, data, training=True, shared=shared)
                loss = tf.nn.compute_average_loss(tf.cast(terms["loss"], "float32"))
                scaled = opt.scale_loss(loss)
                with tape.stop_recording():
                    variables = self.role_variables(role)
                    gradients = tape.gradient(scaled, variables)
                    opt.apply_gradients(zip(gradients, variables))
                self._track(role, terms)
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def test_step(self, data):
        shared = self.shared_forward(data, training=False)
        for role in self.roles:
            self._track(role, self.compute_terms(role, data, training=False, shared=shared))
        return {name: tracker.result() for name, tracker in self._trackers.items()}
