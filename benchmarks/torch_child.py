"""Run PyTorch references in a child process, and report back as JSON.

The parent (a benchmark that has TensorFlow loaded) calls ``run``; the child
module's ``__main__`` calls ``serve``. They are separate processes because
in one process with TensorFlow, whose thread pools stay live, PyTorch's
float32 step ran 30x slower here than on its own. This module imports
neither TensorFlow nor Keras, so the child never loads them.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys


def variants(quick):
    """The (name, compiled, bfloat16) variants a reference runs: eager float32
    and bf16 autocast, and the same under ``torch.compile`` in a full run
    (compiling takes minutes on 2 cores). ``bf16_speedups`` pairs them by name."""
    eager = [("eager float32", False, False), ("eager bf16 autocast", False, True)]
    if quick:
        return eager
    return eager + [("torch.compile float32", True, False),
                    ("torch.compile bf16 autocast", True, True)]


def run(module, arguments, label):
    """``python -m module '{arguments}'`` -> {variant: result}, or None without torch."""
    if importlib.util.find_spec("torch") is None:
        print(f"  {label}: skipped, torch is not installed (pip install -e '.[bench]')",
              flush=True)
        return None
    arguments = {"threads": os.cpu_count(), **arguments}
    completed = subprocess.run(
        [sys.executable, "-m", module, json.dumps(arguments)],
        cwd=pathlib.Path(__file__).resolve().parent.parent, capture_output=True, text=True,
    )
    if completed.returncode != 0:
        print(f"  {label}: failed: {completed.stderr.strip().splitlines()[-1:]}", flush=True)
        return {"error": completed.stderr[-2000:]}
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    for name, values in results.items():
        if "error" in values:
            print(f"  {label} {name}: failed ({values['error'][:160]})", flush=True)
    return results


def bf16_speedups(results, seconds_key):
    """{kind: float32 time / bf16-autocast time} for "eager" and "torch.compile",
    where ``results`` (as ``run`` returns) has both variants of the kind."""
    speedups = {}
    for kind in ("eager", "torch.compile"):
        pair = [results.get(f"{kind} {p}", {}).get(seconds_key)
                for p in ("float32", "bf16 autocast")]
        if None not in pair:
            speedups[kind] = pair[0] / pair[1]
    return speedups


def serve(argv, measure):
    """Child side: ``measure(settings, compiled, bfloat16)`` -> dict, per variant."""
    import torch

    settings = json.loads(argv[0])
    torch.set_num_threads(settings.get("threads", torch.get_num_threads()))
    results = {}
    for name, compiled, bfloat16 in settings["variants"]:
        try:
            results[name] = measure(settings, compiled, bfloat16)
        except Exception as error:  # torch.compile needs a working C++ toolchain.
            results[name] = {"error": f"{type(error).__name__}: {error}"[:500]}
    print(json.dumps(results))
