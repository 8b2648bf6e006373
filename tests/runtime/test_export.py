"""The SavedModel export reloads and matches the Keras model."""

import numpy as np
import pytest
import tensorflow as tf

from dlsuite.apps.runtime import commands, training
from dlsuite.apps.errors import UsageError
from tests.runtime.helpers import TINY_MLP


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("export") / "run"
    session, metrics = training.train("mlp", TINY_MLP, epochs=2, strategy="default",
                                      precision_name="float32", run_dir=run_dir, verbose=0)
    return session, metrics


def test_reloaded_export_matches_keras_on_another_batch_size(finished_run):
    session, metrics = finished_run
    assert metrics["export"]["max_abs_difference"]["classify"] <= 1e-5
    loaded = tf.saved_model.load(str(session.run.export))
    features = session.data.x_test[:7]  # training batch size is 16
    exported = loaded.classify(tf.constant(features))
    expected = session.model.predict(features, verbose=0)
    np.testing.assert_allclose(exported["probabilities"].numpy(), expected, atol=1e-5)
    names = [name.decode() for name in exported["class_name"].numpy()]
    assert names == [session.data.class_names[i] for i in expected.argmax(axis=1)]
    # serving_default is the first endpoint, for TF-Serving.
    serving = loaded.signatures["serving_default"](features=tf.constant(features))
    np.testing.assert_allclose(serving["probabilities"].numpy(), expected, atol=1e-5)


def test_export_command_reexports_from_best_keras(finished_run):
    session, _ = finished_run
    info = commands.export(session.run.path, verbose=0)
    assert info["signatures"] == ["classify"]
    assert info["max_abs_difference"]["classify"] <= 1e-5


def test_predict_runs_the_export_on_files(finished_run, tmp_path):
    session, _ = finished_run
    rows = tmp_path / "rows.csv"
    np.savetxt(rows, session.data.x_test[:3], delimiter=",")
    lines = commands.predict(session.run.path, [str(rows)])
    assert len(lines) == 3
    assert all(line.split(": ")[1].split(" ")[0] in session.data.class_names for line in lines)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nnot,numbers\n")
    with pytest.raises(UsageError, match="non-numeric"):
        commands.predict(session.run.path, [str(bad)])
    wrong_width = tmp_path / "wide.csv"
    np.savetxt(wrong_width, np.ones((2, 5)), delimiter=",")
    with pytest.raises(UsageError, match="expected 64 features per row"):
        commands.predict(session.run.path, [str(wrong_width)])


def test_corrupt_or_hostile_checkpoint_is_a_clear_error(finished_run, tmp_path):
    import shutil

    session, _ = finished_run
    copy = tmp_path / "copy"
    shutil.copytree(session.run.path, copy)
    (copy / "best.keras").write_bytes(b"not a zip archive")
    with pytest.raises(UsageError, match="cannot load .*best.keras"):
        commands.evaluate(copy, verbose=0)


def test_hostile_keras_file_is_refused_in_safe_mode(finished_run, tmp_path):
    import shutil

    import keras

    session, _ = finished_run
    copy = tmp_path / "hostile"
    shutil.copytree(session.run.path, copy)
    inputs = keras.Input((64,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)  # arbitrary code on load
    keras.Model(inputs, outputs).save(copy / "best.keras")
    with pytest.raises(UsageError, match="refused to load .*best.keras: it holds a Lambda layer"):
        commands.evaluate(copy, verbose=0)


def _endpoint_pair(values, served):
    """A live endpoint returning ``values`` and a 'reloaded' one returning ``served``."""
    from types import SimpleNamespace

    from dlsuite.apps.runtime.app import Endpoint

    endpoint = Endpoint("detect", lambda x: {"boxes": tf.constant(values)},
                        [tf.TensorSpec([None], tf.float32)], [np.zeros(1, np.float32)])
    return SimpleNamespace(detect=lambda x: {"boxes": tf.constant(served)}), [endpoint]


def test_export_check_scales_its_tolerance_with_the_values():
    from dlsuite.apps.runtime.export import check_export

    boxes = np.array([[3.0, 17.5, 96.25, 127.0]], np.float32)
    # Boxes in pixels off by 1.5e-5 (two float32 spacings at 127): a pass,
    # with the absolute difference reported.
    loaded, endpoints = _endpoint_pair(boxes, boxes + np.float32(1.5e-5))
    assert check_export(loaded, endpoints, 1e-5)["detect"] == pytest.approx(1.5e-5, rel=0.2)
    # Probabilities off by 1.5e-5 fail: below 1 the tolerance is absolute.
    probabilities = np.array([0.25, 0.75], np.float32)
    loaded, endpoints = _endpoint_pair(probabilities, probabilities + np.float32(1.5e-5))
    with pytest.raises(RuntimeError, match="detect differs from the Keras model by 1.5e-05"):
        check_export(loaded, endpoints, 1e-5)
    # A pixel box off by a tenth of a pixel fails too, and so does a NaN.
    loaded, endpoints = _endpoint_pair(boxes, boxes + np.float32(0.1))
    with pytest.raises(RuntimeError, match="differs"):
        check_export(loaded, endpoints, 1e-5)
    loaded, endpoints = _endpoint_pair(boxes, np.full_like(boxes, np.nan))
    with pytest.raises(RuntimeError, match="differs"):
        check_export(loaded, endpoints, 1e-5)


def test_export_check_names_the_integer_output_that_differs_and_where():
    from types import SimpleNamespace

    from dlsuite.apps.runtime.app import Endpoint
    from dlsuite.apps.runtime.export import check_export

    live = {"boxes": np.zeros((3, 2, 4), np.float32),
            "classes": np.array([[4, -1], [2, -1], [7, 1]], np.int32),
            "count": np.array([1, 1, 2], np.int32)}
    served = {**live, "classes": np.array([[4, -1], [3, -1], [7, 1]], np.int32)}
    as_tensors = lambda outputs: {key: tf.constant(value) for key, value in outputs.items()}
    endpoint = Endpoint("detect", lambda x: as_tensors(live), [tf.TensorSpec([None], tf.float32)],
                        [np.zeros(3, np.float32)])
    loaded = SimpleNamespace(detect=lambda x: as_tensors(served))
    with pytest.raises(RuntimeError, match=r"detect output 'classes' differs in 1 of 6 elements "
                                           r"\(1 of 3 examples\); \(1, 0\): live 2, reloaded 3"):
        check_export(loaded, [endpoint], 1e-5)
    loaded = SimpleNamespace(detect=lambda x: as_tensors(live))
    assert check_export(loaded, [endpoint], 1e-5) == {"detect": 0.0}


def test_export_check_compares_with_the_live_model_compiled_as_the_export_is():
    """The reference is the live function under ``tf.function`` with the
    endpoint's signature (what fit, evaluate and the SavedModel run), not an
    eager call, whose kernels may round otherwise."""
    from types import SimpleNamespace

    from dlsuite.apps.runtime.app import Endpoint
    from dlsuite.apps.runtime.export import check_export

    def detect(x):
        # 0 in an eager call, 1 when compiled: a stand-in for kernels that
        # round differently in the two modes.
        compiled = 0.0 if tf.executing_eagerly() else 1.0
        return {"scores": x + compiled}

    endpoint = Endpoint("detect", detect, [tf.TensorSpec([None], tf.float32)],
                        [np.zeros(3, np.float32)])
    compiled = SimpleNamespace(detect=lambda x: {"scores": x + 1.0})
    assert check_export(compiled, [endpoint], 1e-5) == {"detect": 0.0}
    eager = SimpleNamespace(detect=lambda x: {"scores": x})
    with pytest.raises(RuntimeError, match="detect differs from the Keras model by 1"):
        check_export(eager, [endpoint], 1e-5)
