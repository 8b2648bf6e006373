"""``--strategy multi_worker`` and ``dlsuite launch``: Keras 3's ``fit`` under
MultiWorkerMirroredStrategy, on worker processes on 127.0.0.1.

Step equality holds with dropout off: dropout masks are drawn per replica
(each replica's seed generator draws a mask of its own slice), so with
dropout two workers take a step of the same distribution as one process,
not the same step. The GAN's noise is drawn replica-consistently
(``dlsuite.apps.kits.generative.noise``), so the DCGAN's steps are equal with ``dropout=0``.
"""

import inspect
import json
import textwrap

import numpy as np
import pytest

from dlsuite.apps.runtime import multi_worker, training
from dlsuite.apps.errors import UsageError
from tests.runtime.helpers import cli_process, saved_weights

MLP = ["dataset=digits", "limit=300", "hidden_units=16", "dropout=0", "patience=0",
       "learning_rate=0.05", "optimizer=minibatch_gd"]
DCGAN = ["variant=dcgan", "dataset=digits", "limit=256", "latent_dim=8", "generator_filters=4",
         "discriminator_filters=4", "dropout=0", "quality=false"]


def _sets(overrides):
    return [item for value in overrides for item in ("--set", value)]


def test_the_keras_lines_the_compatibility_layer_replaces_are_unchanged():
    """If a Keras upgrade rewrites them, the replacements must be re-examined."""
    from keras.src.backend.tensorflow import trainer

    multi_worker.install_fit_support()
    build = inspect.getsource(trainer.TensorFlowTrainer._maybe_symbolic_build.keras_original)
    assert 'self.distribute_strategy.reduce(\n                        "MEAN",' in build
    reduce = inspect.getsource(trainer.reduce_per_replica.keras_original)
    assert 'return strategy.reduce("MEAN", v, axis=0)' in reduce
    assert "_collective_all_reduce_multi_worker(strategy)" in reduce


def test_an_untested_keras_version_is_refused():
    with pytest.raises(UsageError, match="tested with Keras 3.15.x; this is Keras 3.99.0"):
        multi_worker.install_fit_support(version="3.99.0")
    assert multi_worker.keras_is_tested("3.15.1")


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs TF_CONFIG"),
    ("{not json", "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["a:1"]}}', "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
     "names task worker 3, but its cluster has 1"),
])
def test_tf_config_mistakes_are_clear(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(UsageError, match=message):
        multi_worker.cluster_spec()


def _launch(tmp_path, app, overrides, epochs, batch, name="two", extra=()):
    run_dir = tmp_path / name
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = cli_process(["launch", "--workers", 2, "--max-restarts", 0, app, *_sets(overrides),
                        "--set", f"batch_size={batch}", "--epochs", epochs, "--precision",
                        "float32", "--run-dir", run_dir, "--quiet", *extra], cwd=tmp_path,
                       env={"TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    leftover = [path.name for path in scratch.iterdir() if path.name.startswith("dlsuite-")]
    assert not leftover, f"the workers' scratch directories were left behind: {leftover}"
    return run_dir, done


def _single(tmp_path, app, overrides, epochs, batch):
    session, _ = training.train(app, overrides + [f"batch_size={batch}"], epochs=epochs,
                                strategy="default", precision_name="float32",
                                run_dir=tmp_path / "one", verbose=0)
    return session.run.path


@pytest.mark.slow
@pytest.mark.parametrize("app, overrides, epochs, batch", [
    ("mlp", MLP, 3, 16), ("gan", DCGAN, 2, 32)], ids=["mlp", "dcgan"])
def test_two_workers_take_the_steps_of_one_process_on_the_same_global_batch(
        tmp_path, app, overrides, epochs, batch):
    two, done = _launch(tmp_path, app, overrides, epochs, batch)
    one = _single(tmp_path, app, overrides, epochs, 2 * batch)
    record = json.loads((two / "config.json").read_text())
    assert record["replicas"] == 2 and record["config"]["batch_size"] == batch
    # The chief wrote the whole run; the other worker wrote nothing there.
    assert (two / "export" / "saved_model.pb").exists() and (two / "report.md").exists()
    assert [row["epoch"] for row in training.RunDir(two).read_history()] == list(range(epochs))
    two_weights, one_weights = saved_weights(two / "best.keras"), saved_weights(one / "best.keras")
    initial = json.loads((one / "config.json").read_text())["initial_weights_sha256"]
    assert initial == record["initial_weights_sha256"], "both runs start from the same weights"
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(two_weights, one_weights))
    assert worst < 2e-5, f"two workers drifted from one process by {worst}"


_UNPATCHED = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": sys.argv[1].split(",")},
                                          "task": {"type": "worker", "index": int(sys.argv[2])}})
    import numpy as np, tensorflow as tf, keras
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x = np.ones((32, 4), "float32")
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    try:
        model.fit(tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8), epochs=1, verbose=0)
        print("FIT-WORKED")
    except Exception as error:
        print("FIT-FAILED", type(error).__name__, str(error)[:300].replace(chr(10), " "))
""")


@pytest.mark.slow
def test_unpatched_keras_fit_still_fails_under_multi_worker(tmp_path):
    """The day Keras makes this work, the compatibility layer can go."""
    import subprocess
    import sys

    from dlsuite.apps.runtime.launch import free_ports

    script = tmp_path / "unpatched.py"
    script.write_text(_UNPATCHED)
    addresses = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    workers = [subprocess.Popen([sys.executable, str(script), addresses, str(index)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
               for index in range(2)]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert "FIT-WORKED" not in outputs[0], (
        "Keras's fit now works under MultiWorkerMirroredStrategy unpatched: "
        "apps/runtime/multi_worker.py's replacements can be retired")
    assert "FIT-FAILED" in outputs[0] and "PerReplica" in outputs[0], outputs[0]
