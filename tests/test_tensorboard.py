"""`dlsuite tensorboard` serves a run's scalars and its error-analysis table
on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

from apps.runtime import training
from tests.runtime.helpers import TINY_MLP


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_tensorboard_serves_scalars_and_error_analysis(tmp_path):
    session, _ = training.train("mlp", TINY_MLP, epochs=2, strategy="default",
                                precision_name="float32", run_dir=tmp_path / "run", verbose=0)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "apps.cli", "tensorboard", str(session.run.path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}/data/plugin"
        deadline = time.time() + 90
        scalars = {}
        while time.time() < deadline:
            try:
                scalars = _get(f"{base}/scalars/tags")
                if "validation" in scalars and "train" in scalars:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert "epoch_loss" in scalars["train"] and "epoch_f1" in scalars["validation"], scalars
        text = _get(f"{base}/text/tags")
        assert "error_analysis" in text.get("validation", []), text
        entries = _get(f"{base}/text/text?run=validation&tag=error_analysis")
        assert "share of dev error" in entries[-1]["text"]
    finally:
        server.terminate()
        server.wait(timeout=30)
