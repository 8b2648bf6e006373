"""The character language model: Keras's recurrent layers, stacked.

``characters (batch, steps) strings -> StringLookup -> Embedding ->
[SimpleRNN | LSTM | GRU] x depth (each followed by Dropout) -> Dense logits``

The vocabulary is the model's first layer (``StringLookup``, index 0 for
characters never seen in training), so the model, its ``.keras`` file and
its SavedModel take strings; logits are float32 under any precision.
"""

import math

import keras

from dlsuite.apps.kits.recurrent import recurrent_layer

# Layer names the generation code (apps.charlm.generation) looks up.
LOOKUP, EMBEDDING, LOGITS = "vocabulary", "embedding", "logits"


def recurrent_name(index):
    return f"rnn_{index}"


@keras.saving.register_keras_serializable(package="dlsuite")
class CharLanguageModel(keras.Model):
    """The Functional language model. With ``stateful`` recurrent layers
    (each batch row continues the text of the same row of the batch before),
    every ``evaluate`` starts from zero states, so a split's figure never
    depends on what ran before it."""

    def reset_recurrent_states(self):
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                layer.reset_state()

    def evaluate(self, *args, **kwargs):
        self.reset_recurrent_states()
        return super().evaluate(*args, **kwargs)


def recurrent_layers(model):
    """The model's recurrent layers, bottom first."""
    found = []
    while True:
        try:
            found.append(model.get_layer(recurrent_name(len(found))))
        except ValueError:
            return found


def build_language_model(vocabulary, cell="lstm", depth=2, units=256, embedding_dim=64,
                         dropout=0.0, reset_after=True, unroll=False, sequence_length=None,
                         stateful_batch_size=None):
    """The uncompiled Functional model ``characters -> next-character logits``.

    ``vocabulary`` is the list of characters (index ``1 + position``;
    0 is every other character). ``sequence_length`` fixes the time axis,
    which ``unroll=True`` needs. ``stateful_batch_size`` makes the recurrent
    layers stateful (Keras's ``stateful=True``) for batches of that size.
    """
    stateful = stateful_batch_size is not None
    if stateful:
        inputs = keras.Input(batch_shape=(stateful_batch_size, sequence_length), dtype="string",
                             name="characters")
    else:
        inputs = keras.Input((sequence_length,), dtype="string", name="characters")
    lookup = keras.layers.StringLookup(vocabulary=list(vocabulary), num_oov_indices=1,
                                       name=LOOKUP)
    x = keras.layers.Embedding(lookup.vocabulary_size(), embedding_dim, name=EMBEDDING)(
        lookup(inputs))
    for index in range(depth):
        x = recurrent_layer(cell, units, reset_after=reset_after, unroll=unroll,
                            stateful=stateful, name=recurrent_name(index))(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    logits = keras.layers.Dense(lookup.vocabulary_size(), dtype="float32", name=LOGITS)(x)
    return CharLanguageModel(inputs, logits, name=f"charlm_{cell}")


@keras.saving.register_keras_serializable(package="dlsuite")
def bits_per_character(y_true, logits):
    """Cross-entropy in bits: nats / ln 2, per predicted character."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)
    return nats / math.log(2.0)


def compile_language_model(model, optimizer, **options):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.MeanMetricWrapper(bits_per_character,
                                                 name="bits_per_character")],
        **options,
    )
    return model
