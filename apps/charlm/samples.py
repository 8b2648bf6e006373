"""Samples of the model's text every epoch, in TensorBoard's Text tab."""

import os

import keras
import tensorflow as tf

from dlsuite.apps.charlm.generation import LanguageModelFunctions

TEMPERATURES = (0.5, 0.8, 1.0)


def samples_markdown(prompt, samples, heading="## Samples"):
    """A markdown section: the prompt and one quoted sample per temperature."""
    lines = [heading, "", f"Prompt {prompt!r}, the same seed for every temperature.", ""]
    for temperature, text in samples.items():
        quoted = "\n".join("    " + line for line in text.split("\n"))
        lines += [f"Temperature {temperature}:", "", quoted, ""]
    return "\n".join(lines)


class TextSamplesLogger(keras.callbacks.Callback):
    """After each epoch, generate ``length`` characters after ``prompt`` at
    each of :data:`TEMPERATURES` (compiled ``generate``, fixed seed) and
    write them to TensorBoard (``samples`` under ``log_dir/validation``).
    ``history`` keeps every epoch's samples."""

    def __init__(self, prompt, length, log_dir, seed=0, temperatures=TEMPERATURES):
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1. Received: length={length}")
        self.prompt = prompt
        self.length = length
        self.log_dir = os.fspath(log_dir)
        self.seed = seed
        self.temperatures = tuple(temperatures)
        self.history = []
        self._functions = None

    def on_train_begin(self, logs=None):
        self._functions = LanguageModelFunctions(self.model)

    def on_epoch_end(self, epoch, logs=None):
        samples = {t: self._functions.sample(self.prompt, self.length, t, self.seed)
                   for t in self.temperatures}
        self.history.append(samples)
        writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "validation"))
        with writer.as_default():
            tf.summary.text("samples", samples_markdown(self.prompt, samples, heading=""),
                            step=epoch)
        writer.close()
