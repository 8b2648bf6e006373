import keras
import numpy as np
import pytest

from dlsuite.layers import NaNMasking
from tests.layer_checks import check_layer


def test_layer_checks():
    check_layer(NaNMasking, init_kwargs={}, input_shape=(2, 5, 3), expected_output_shape=(2, 5, 3))


def test_mask_and_zeros_follow_the_nan_padding():
    x = np.array([[[1.0, 2.0], [3.0, np.nan], [np.nan, np.nan]],
                  [[np.nan, np.nan], [np.nan, np.nan], [np.nan, np.nan]]], "float32")
    layer = NaNMasking()
    mask = keras.ops.convert_to_numpy(layer.compute_mask(x))
    # A step is masked only when every feature is NaN.
    np.testing.assert_array_equal(mask, [[True, True, False], [False, False, False]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)),
                                  np.nan_to_num(x, nan=0.0))


def test_keras_masking_cannot_do_it():
    """Why the layer exists: Keras's Masking with mask_value=NaN masks nothing."""
    x = np.array([[[1.0], [np.nan]]], "float32")
    mask = keras.ops.convert_to_numpy(keras.layers.Masking(mask_value=np.nan).compute_mask(x))
    assert mask.tolist() == [[True, True]]


def test_rejects_inputs_without_a_time_axis():
    with pytest.raises(ValueError, match="Received: inputs.shape"):
        NaNMasking()(np.zeros((2, 3), "float32"))


def _stacked_bidirectional(cell, features=3, units=4, classes=3):
    make = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU,
            "rnn": keras.layers.SimpleRNN}[cell]
    inputs = keras.Input((None, features))
    x = NaNMasking()(inputs)
    x = keras.layers.Bidirectional(make(units, return_sequences=True))(x)
    x = keras.layers.Bidirectional(make(units))(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_masked_padded_batch_equals_each_sequence_alone(cell):
    """Stacked bidirectional layers: padding changes nothing, forward or
    backward, and a padded batch equals the sequences run one by one."""
    model = _stacked_bidirectional(cell)
    rng = np.random.default_rng(0)
    lengths = [7, 3, 5, 1]
    sequences = [rng.standard_normal((n, 3)).astype("float32") for n in lengths]
    padded = np.full((len(lengths), 9, 3), np.nan, "float32")
    for row, sequence in enumerate(sequences):
        padded[row, :len(sequence)] = sequence
    batch = keras.ops.convert_to_numpy(model(padded))
    for row, sequence in enumerate(sequences):
        alone = keras.ops.convert_to_numpy(model(sequence[np.newaxis]))
        np.testing.assert_allclose(batch[row], alone[0], rtol=1e-5, atol=1e-6)
    # Padding with zeros instead (no mask) changes the answer: the test can fail.
    zero_padded = np.nan_to_num(padded, nan=0.0)
    assert not np.allclose(keras.ops.convert_to_numpy(model(zero_padded))[1], batch[1],
                           atol=1e-4)
