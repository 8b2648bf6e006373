"""Sampling and scoring with a trained character model, compiled as graphs.

Both step through the model one character at a time with the recurrent
layers' own cells (``layer.cell``: the very function each Keras layer runs
at every step of its loop), the embedding and the output layer of the
model, inside a ``tf.while_loop``: no Python loop, so they export as
SavedModel signatures and run from one there.

``generate(prompt, length, temperature, seed) -> prompt + continuation``:

- the prompt is read character by character into the state; an empty
  prompt is read as one newline (the start of a line), which is not
  returned; a character never seen in training is the vocabulary's
  out-of-vocabulary entry (index 0) as input, and is never generated;
- ``temperature`` > 0 samples from ``softmax(logits / temperature)``,
  0 takes the most likely character (greedy), < 0 is an error;
- sampling is ``tf.random.stateless_categorical`` seeded by ``(seed,
  step)``: the same seed gives the same text in any process;
- ``length`` 0 returns the prompt unchanged.

``score(texts) -> nats per character``: each text's mean negative
log-likelihood of its characters after the first, given those before it,
from a zero state: what ``model.evaluate`` measures on a window (or, for a
stateful model, on a whole stream of windows), so scoring the test split's
windows (streams) reproduces the report's test figure. Texts need two or
more characters.
"""

import tensorflow as tf

from dlsuite.apps.charlm.model import EMBEDDING, LOGITS, LOOKUP, recurrent_layers
from dlsuite.apps.runtime import signature_inputs

# The longest continuation one generate call makes.
MAX_GENERATE_LENGTH = 10_000
MAX_TEMPERATURE = 100.0


class LanguageModelFunctions:
    """``generate`` and ``score`` of one model (plain functions of tensors,
    for export), and ``compiled(name)`` for calling them from Python."""

    def __init__(self, model):
        self.model = model
        self.lookup = model.get_layer(LOOKUP)
        self.embedding = model.get_layer(EMBEDDING)
        self.head = model.get_layer(LOGITS)
        self.recurrent = recurrent_layers(model)
        vocabulary = self.lookup.get_vocabulary()  # ["[UNK]", c1, c2, ...]
        self.characters = tf.constant([""] + list(vocabulary[1:]))
        self._compiled = {}

    # -- one step ----------------------------------------------------------
    def initial_states(self, batch_size):
        return [[tf.cast(s, self.embedding.compute_dtype)
                 for s in tf.nest.flatten(layer.cell.get_initial_state(batch_size))]
                for layer in self.recurrent]

    def step(self, ids, states):
        """Logits (float32) for the next character after ``ids`` (batch,)."""
        x = self.embedding(ids)
        new_states = []
        for layer, state in zip(self.recurrent, states):
            x, state = layer.cell(x, state, training=False)
            new_states.append(list(tf.nest.flatten(state)))
        return tf.cast(self.head(x), tf.float32), new_states

    def _ids(self, characters):
        return tf.cast(self.lookup(characters), tf.int32)

    # -- generate ----------------------------------------------------------
    def generate(self, prompt, length, temperature, seed):
        prompt = signature_inputs.string_scalar(prompt, signature="generate", name="prompt")
        length = signature_inputs.scalar(length, signature="generate", name="length", low=0,
                                         high=MAX_GENERATE_LENGTH)
        temperature = signature_inputs.scalar(temperature, signature="generate",
                                              name="temperature", low=0.0, high=MAX_TEMPERATURE)
        seed = signature_inputs.scalar(seed, signature="generate", name="seed")
        characters = tf.strings.unicode_split(prompt, "UTF-8")
        characters = tf.cond(tf.size(characters) > 0, lambda: characters,
                             lambda: tf.constant(["\n"]))
        ids = self._ids(characters)

        def read(t, states):
            _, states = self.step(tf.expand_dims(ids[t], 0), states)
            return t + 1, states

        _, states = tf.while_loop(lambda t, _: t < tf.size(ids) - 1, read,
                                  (tf.constant(0), self.initial_states(1)))
        # Index 0 (out of vocabulary) is never generated.
        never = tf.one_hot(0, tf.shape(self.characters)[0], on_value=-1e9, off_value=0.0)
        seed = tf.cast(seed, tf.int64)

        def emit(t, current, states, generated):
            logits, states = self.step(current, states)
            logits = logits + never

            def sample():
                return tf.random.stateless_categorical(
                    logits / temperature, 1, seed=tf.stack([seed, tf.cast(t, tf.int64)]),
                    dtype=tf.int32)[:, 0]

            def greedy():
                return tf.argmax(logits, axis=-1, output_type=tf.int32)

            chosen = tf.cond(temperature > 0.0, sample, greedy)
            return t + 1, chosen, states, generated.write(t, chosen[0])

        _, _, _, generated = tf.while_loop(
            lambda t, *_: t < length, emit,
            (tf.constant(0), tf.expand_dims(ids[-1], 0), states,
             tf.TensorArray(tf.int32, size=length, element_shape=())))
        continuation = tf.strings.reduce_join(tf.gather(self.characters, generated.stack()))
        return prompt + continuation

    # -- score -------------------------------------------------------------
    def score(self, texts):
        texts = signature_inputs.string_batch(texts, signature="score", name="texts")
        characters = tf.strings.unicode_split(texts, "UTF-8")
        lengths = tf.cast(characters.row_lengths(), tf.int32)
        check = tf.debugging.Assert(
            tf.reduce_all(lengths >= 2),
            ["score expects texts of 2 or more characters (the first is the context of the "
             "rest); received lengths", lengths], summarize=16)
        with tf.control_dependencies([check]):
            ids = self._ids(characters.to_tensor(default_value=""))
        batch = tf.shape(ids)[0]

        def accumulate(t, states, total):
            logits, states = self.step(ids[:, t], states)
            nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, t + 1],
                                                                  logits=logits)
            return t + 1, states, total + tf.where(t + 1 < lengths, nats, 0.0)

        _, _, total = tf.while_loop(
            lambda t, *_: t < tf.shape(ids)[1] - 1, accumulate,
            (tf.constant(0), self.initial_states(batch), tf.zeros([batch], tf.float32)))
        return total / tf.cast(lengths - 1, tf.float32)

    # -- signatures ----------------------------------------------------------
    SIGNATURES = {
        "generate": [tf.TensorSpec(None, tf.string, name="prompt"),
                     tf.TensorSpec(None, tf.int32, name="length"),
                     tf.TensorSpec(None, tf.float32, name="temperature"),
                     tf.TensorSpec(None, tf.int64, name="seed")],
        "score": [tf.TensorSpec(None, tf.string, name="texts")],
    }

    def compiled(self, name):
        """``generate`` or ``score`` as a ``tf.function`` with its signature."""
        if name not in self._compiled:
            self._compiled[name] = tf.function(getattr(self, name),
                                               input_signature=self.SIGNATURES[name],
                                               autograph=False)
        return self._compiled[name]

    def sample(self, prompt, length, temperature, seed=0):
        """Python convenience: the generated text as a ``str``."""
        text = self.compiled("generate")(tf.constant(prompt), tf.constant(length, tf.int32),
                                         tf.constant(temperature, tf.float32),
                                         tf.constant(seed, tf.int64))
        return text.numpy().decode("utf-8")
