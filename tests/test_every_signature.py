"""Every signature of every app refuses each kind of bad input with a message
that names what it expects, and the serving process survives (a fresh
process with TensorFlow only, ``tests/signature_sweep.py``). And
``saved_model_cli show --all`` lists every signature with its inputs."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from dlsuite.apps import registry
from dlsuite.apps.runtime import training

# A tiny run of each app (a study app trains mlp runs: covered by mlp); a
# key "app:variant" is another configuration of the app before the colon.
_STYLE = ["weights=random", "style=immunohistochemistry", "image_size=32",
          "content_layers=block2_conv2", "style_layers=block1_conv1,block2_conv1"]
_RCNN = ["image_size=64", "max_scale=2", "max_objects=3", "limit=32", "width=0.125",
         "batch_size=8", "patience=0", "logged_scenes=2", "head_units=16", "rpn_filters=8",
         "max_proposals=40", "rois_per_image=16"]
TINY = {
    "mlp": ["dataset=digits", "limit=120", "hidden_units=8", "patience=0"],
    "cnn": ["dataset=digits", "limit=120", "arch=lenet5", "batch_size=32", "patience=0"],
    "vae": ["dataset=digits", "limit=120", "latent_dim=2", "batch_size=32", "quality=false"],
    "gan": ["dataset=digits", "limit=120", "latent_dim=8", "generator_filters=4",
            "discriminator_filters=4", "label_embedding_dim=4", "batch_size=32",
            "quality=false"],
    "gan:stylegan": ["variant=stylegan", "dataset=digits", "limit=120", "latent_dim=8",
                     "w_dim=8", "mapping_layers=1", "style_filters=4", "style_max_filters=8",
                     "batch_size=32", "quality=false"],
    "yolo": ["image_size=64", "max_scale=2", "max_objects=3", "limit=32", "width=0.125",
             "neck_filters=16", "batch_size=16", "patience=0", "logged_scenes=2"],
    "localize": ["limit=32", "width=0.125", "hidden_units=16", "batch_size=16", "patience=0"],
    "charlm": ["corpus=names", "limit=40", "units=8", "embedding_dim=4", "sequence_length=16",
               "batch_size=8", "patience=0"],
    "seqclass": ["dataset=japanese_vowels", "limit=100", "units=8", "batch_size=16",
                 "patience=0"],
    "face": ["dataset=digits", "limit=400", "width=0.0625", "embedding_dim=8",
             "identities_per_batch=3", "examples_per_identity=4", "verification_pairs=400",
             "identification_trials=3", "patience=0"],
    "style": _STYLE + ["content=coffee", "steps_per_epoch=2"],
    "translate": ["limit=120", "units=8", "embedding_dim=4", "bleu_examples=8",
                  "report_examples=8", "attention_examples=1", "patience=0"],
    "rcnn": _RCNN + ["variant=rcnn", "warp_size=16"],
    "rcnn:fast": _RCNN + ["variant=fast"],
    "rcnn:faster": _RCNN + ["variant=faster", "anchor_sizes=16,32", "train_proposals=40",
                            "test_proposals=30"],
    "style:fast": _STYLE + ["mode=fast", "crops=8", "crop_size=32", "filters=4",
                            "residual_blocks=1"],
}
STUDIES = {"optimizers"}
FAST = {"mlp"}
SWEEP = pathlib.Path(__file__).parent / "signature_sweep.py"


def test_every_registered_app_is_swept():
    missing = set(registry.names()) - {key.split(":")[0] for key in TINY} - STUDIES
    assert not missing, f"add a tiny config for {sorted(missing)} to TINY"


def _params():
    return [pytest.param(app, overrides, id=app,
                         marks=() if app in FAST else (pytest.mark.slow,))
            for app, overrides in TINY.items()]


def _expected_mentioned(case, message):
    """Our checks say 'expects'; TensorFlow's signature binding names the
    TensorSpec it accepts (dtype and shape)."""
    return ("expects" in message or "TensorSpec" in message or "Expected" in message
            or "expected" in message)


@pytest.mark.parametrize("app, overrides", _params())
def test_every_signature_refuses_bad_inputs_and_the_server_survives(tmp_path, app, overrides):
    app = app.split(":")[0]
    session, _ = training.train(app, overrides, epochs=1, strategy="default",
                                precision_name="float32", run_dir=tmp_path / "run", verbose=0)
    endpoints = session.app.export_endpoints(session.model, session.config, session.data)
    examples = {}
    for endpoint in endpoints:
        for spec, value in zip(endpoint.input_signature, endpoint.example):
            assert spec.name, f"{app}.{endpoint.name}: name every TensorSpec"
            value = np.asarray(value)
            if value.dtype.kind in "OU":  # strings: as bytes, which np.savez keeps
                value = np.vectorize(lambda v: v if isinstance(v, bytes) else str(v).encode(),
                                     otypes=[object])(value).astype("S")
            examples[f"{endpoint.name}__{spec.name}"] = value
    np.savez(tmp_path / "examples.npz", **examples)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(SWEEP), str(session.run.export),
                           str(tmp_path / "examples.npz")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {endpoint.name for endpoint in endpoints}
    for signature, results in report.items():
        cases = {(argument, case) for argument, case, _, _ in results}
        assert len(cases) == len(results), signature
        inputs = next(e.input_signature for e in endpoints if e.name == signature)
        assert results or not inputs, f"{signature} takes inputs but none was swept"
        for argument, case, raised, message in results:
            where = f"{app}.{signature}({argument}) given {case}"
            assert raised is not None, f"{where} was accepted"
            assert _expected_mentioned(case, message), f"{where}: {message[:300]}"
            if case in ("nan", "inf", "empty-batch", "huge-image", "long-string"):
                assert "expects" in message, f"{where} is no message of ours: {message[:300]}"


def test_saved_model_cli_lists_every_signature_with_its_inputs(tmp_path):
    session, _ = training.train("gan", TINY["gan"] + ["variant=conditional"], epochs=1,
                                strategy="default", precision_name="float32",
                                run_dir=tmp_path / "run", verbose=0)
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([str(cli), "show", "--all", "--dir", str(session.run.export)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "signature_def['generate']" in text and "signature_def['serving_default']" in text
    generate = text.split("signature_def['generate']")[1].split("signature_def[")[0]
    assert "inputs['noise']" in generate and "shape: (-1, 8)" in generate
    assert "inputs['labels']" in generate and "dtype: DT_INT32" in generate
    assert "dtype: DT_UINT8" in generate and "shape: (-1, 8, 8, 1)" in generate
