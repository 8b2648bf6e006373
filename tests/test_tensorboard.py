"""`dlsuite tensorboard` serves a run's scalars and its error-analysis table
on 127.0.0.1, and listens on no other address."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

from dlsuite.apps.runtime import training
from tests.runtime.helpers import TINY_MLP


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port):
    """Local addresses of the sockets in LISTEN state on ``port`` (from /proc)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
            else:
                raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, 32, 8))
                found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _get(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_tensorboard_serves_scalars_and_error_analysis(tmp_path):
    session, _ = training.train("mlp", TINY_MLP, epochs=2, strategy="default",
                                precision_name="float32", run_dir=tmp_path / "run", verbose=0)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "dlsuite.apps.cli", "tensorboard", str(session.run.path), "--port", str(port)],
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
        listening = _listening_addresses(port)
        assert listening == {"127.0.0.1"}, f"TensorBoard listens on {listening}"
    finally:
        server.terminate()
        server.wait(timeout=30)
