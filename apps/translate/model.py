"""The encoder-decoder: Keras's recurrent and attention layers.

    source ids -> Embedding -> Bidirectional(LSTM|GRU) x depth
                                        |  final states
                                        v  bridge (Dense, tanh)
    [START] y_1 .. y_T ids -> Embedding -> LSTM|GRU x depth -> h_t
                     attention(h_t, encoder outputs) -> c_t
                     tanh(W [c_t; h_t]) -> Dense -> logits of y_1 .. y_T [END]

The model (:class:`TranslationModel`, a Functional model) reads token ids;
its two vocabularies are ``StringLookup`` layers it holds and saves
(``model.source_lookup``, ``model.target_lookup``), which the input
pipeline and the export use to number tokens. (String inputs would be
simpler, but Keras 3.15's ``fit`` under a distribution strategy averages
the first batch across replicas to build the model, which fails on strings.)

Teacher forcing: the decoder reads the target shifted right by one (a
start token first) and is trained to emit the target followed by an end
token (:func:`dlsuite.apps.translate.pipeline.teacher_forcing`).

``attention``:

* ``additive`` (Bahdanau's score ``v^T tanh(W_q h_t + W_k h_s)``):
  ``keras.layers.AdditiveAttention(use_scale=True)`` (its scale is ``v``)
  on the decoder output projected by ``W_q`` and keys projected by ``W_k``;
* ``dot`` (Luong's score ``h_t^T W_k h_s``, his "general" form, since the
  bidirectional encoder is twice as wide as the decoder):
  ``keras.layers.Attention`` on keys projected by ``W_k``;
* ``none``: no attention, the encoder's final states (through the bridge)
  are all the decoder knows of the source: the fixed-size context vector
  of Sutskever et al. and Cho et al.

Both attentions sit after the decoder's recurrent layers (Luong's layout:
the attention of step ``t`` reads the decoder's ``h_t``), so training runs
every layer over whole sequences, and a decoding step is the recurrent
cells' step, one attention query and the output layers
(:mod:`dlsuite.apps.translate.decoding`). Padding is masked in the encoder (both
directions), in the attention and in the loss. Logits are float32 under
any precision.
"""

import keras

from dlsuite.apps.kits.recurrent import recurrent_layer

CELLS = ("lstm", "gru")
ATTENTIONS = ("additive", "dot", "none")
# Layer names the decoding code looks up.
SOURCE_LOOKUP, TARGET_LOOKUP = "source_vocabulary", "target_vocabulary"
SOURCE_EMBEDDING, TARGET_EMBEDDING = "source_embedding", "target_embedding"
KEYS, QUERY, ATTENTION, COMBINE, LOGITS = ("attention_keys", "attention_query", "attention",
                                           "attention_combine", "logits")


def encoder_name(index):
    return f"encoder_{index}"


def decoder_name(index):
    return f"decoder_{index}"


def bridge_name(index, part):
    return f"bridge_{index}_{part}"


def state_parts(cell):
    """The recurrent state's parts: LSTM (h, c), GRU (h)."""
    return ("h", "c") if cell == "lstm" else ("h",)


def recurrent(cell, units, name, return_state=False):
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}. Received: cell={cell!r}")
    return recurrent_layer(cell, units, return_state=return_state, name=name)


def string_lookup(vocabulary, name):
    """Index 0 is padding (the empty string), 1 every unknown token."""
    return keras.layers.StringLookup(vocabulary=list(vocabulary), mask_token="",
                                     oov_token="[UNK]", num_oov_indices=1, name=name)


@keras.saving.register_keras_serializable(package="dlsuite")
class TranslationModel(keras.Model):
    """The Functional encoder-decoder on token ids, with its vocabularies.

    ``source_lookup`` and ``target_lookup`` are ``StringLookup`` layers over
    ``source_vocabulary`` and ``target_vocabulary`` (index 0 padding, 1
    ``[UNK]``); they are saved in the model's config, so a ``.keras`` file
    and the SavedModel number tokens as training did.
    """

    def __init__(self, *args, source_vocabulary=(), target_vocabulary=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.source_vocabulary = list(source_vocabulary)
        self.target_vocabulary = list(target_vocabulary)
        self.source_lookup = string_lookup(self.source_vocabulary, SOURCE_LOOKUP)
        self.target_lookup = string_lookup(self.target_vocabulary, TARGET_LOOKUP)

    def get_config(self):
        config = super().get_config()
        config.update(source_vocabulary=self.source_vocabulary,
                      target_vocabulary=self.target_vocabulary)
        return config


def build_translation_model(source_vocabulary, target_vocabulary, *, cell="lstm",
                            attention="additive", depth=1, units=256, embedding_dim=128,
                            dropout=0.0):
    """The uncompiled :class:`TranslationModel` ``(source ids, decoder input
    ids) -> logits``, both inputs ``(batch, steps)`` int64 padded with 0.
    ``target_vocabulary`` starts with the start and end tokens."""
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {ATTENTIONS}. Received: attention={attention!r}")
    for name, value in (("depth", depth), ("units", units), ("embedding_dim", embedding_dim)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1. Received: {name}={value}")
    source = keras.Input((None,), dtype="int64", name="source")
    decoder_input = keras.Input((None,), dtype="int64", name="decoder_input")
    source_size, target_size = len(source_vocabulary) + 2, len(target_vocabulary) + 2

    x = keras.layers.Embedding(source_size, embedding_dim, mask_zero=True,
                               name=SOURCE_EMBEDDING)(source)
    initial_states = []
    for index in range(depth):
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"encoder_dropout_{index}")(x)
        outputs = keras.layers.Bidirectional(recurrent(cell, units, None, return_state=True),
                                             name=encoder_name(index))(x)
        x, states = outputs[0], outputs[1:]
        half = len(states) // 2
        forward, backward = states[:half], states[half:]
        initial_states.append([
            keras.layers.Dense(units, activation="tanh", name=bridge_name(index, part))(
                keras.layers.Concatenate(name=f"{bridge_name(index, part)}_input")(
                    [forward[k], backward[k]]))
            for k, part in enumerate(state_parts(cell))])
    memory = x

    y = keras.layers.Embedding(target_size, embedding_dim, mask_zero=True,
                               name=TARGET_EMBEDDING)(decoder_input)
    for index in range(depth):
        if dropout:
            y = keras.layers.Dropout(dropout, name=f"decoder_dropout_{index}")(y)
        y = recurrent(cell, units, decoder_name(index))(y, initial_state=initial_states[index])
    if attention != "none":
        keys = keras.layers.Dense(units, use_bias=False, name=KEYS)(memory)
        if attention == "additive":
            query = keras.layers.Dense(units, use_bias=False, name=QUERY)(y)
            context = keras.layers.AdditiveAttention(use_scale=True, name=ATTENTION)(
                [query, memory, keys])
        else:
            context = keras.layers.Attention(name=ATTENTION)([y, memory, keys])
        y = keras.layers.Dense(units, activation="tanh", name=COMBINE)(
            keras.layers.Concatenate(name=f"{COMBINE}_input")([context, y]))
    if dropout:
        y = keras.layers.Dropout(dropout, name="output_dropout")(y)
    logits = keras.layers.Dense(target_size, dtype="float32", name=LOGITS)(y)
    return TranslationModel([source, decoder_input], logits, name=f"seq2seq_{cell}_{attention}",
                            source_vocabulary=source_vocabulary,
                            target_vocabulary=target_vocabulary)


def compile_translation_model(model, optimizer, **options):
    """Cross-entropy per target token (padding weighted 0 by the pipeline)
    and the share of target tokens predicted right."""
    model.compile(
        optimizer=optimizer,
        # The mean over real target tokens (Keras's default divides by every
        # position, padding included, so a batch's loss would depend on its padding).
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        reduction="mean_with_sample_weight"),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
        **options,
    )
    return model
