"""multi_worker: two workers on one host beside one process, and the
all-reduce time per step.

    python -m benchmarks multi_worker           # 3 interleaved repeats
    python -m benchmarks --quick multi_worker   # 1 repeat, 2 epochs (a smoke run)

The same ``dlsuite train cnn`` run (LeNet-5 on MNIST 5k, global batch 128)
as one process (``--strategy default``) and as two workers on 127.0.0.1
(``dlsuite launch --workers 2``, batch 64 per worker, each worker given one
of the two cores), repeats interleaved. Throughput is training examples per
second over the median epoch (the first, tracing, epoch left out; the
epoch includes the dev evaluation). On one 2-core host two workers are
expected to be slower than one process: they split the same two cores and
add a gradient all-reduce per step over loopback. The point is that the
same command scales out to more hosts.

The all-reduce time per step is measured on its own: two workers all-reduce
a gradient of the model's size (every trainable variable, float32) 200
times inside one ``tf.function`` each, the way ``fit`` does once per step;
the median per call is reported beside the two-worker step time.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import textwrap

from dlsuite.apps.runtime.launch import free_ports, worker_environment
from benchmarks.common import CpuShare, comparable, result_name, write_result

CONFIG = ["arch=lenet5", "dataset=mnist5k", "patience=0", "augment=off"]
GLOBAL_BATCH = 128

_PROBE = textwrap.dedent("""
    import json, statistics, sys, time
    import tensorflow as tf
    from dlsuite.apps.runtime import multi_worker
    from dlsuite.apps.kits.vision.architectures import build_model
    strategy = multi_worker.make_strategy()
    with strategy.scope():
        model = build_model("lenet5", (28, 28, 1), 10)
    shapes = [tuple(v.shape) for v in model.trainable_variables]
    def step():
        context = tf.distribute.get_replica_context()
        return context.all_reduce("SUM", [tf.ones(shape) for shape in shapes])
    @tf.function
    def all_reduce():
        return strategy.run(step)
    for _ in range(20):
        all_reduce()
    times = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), strategy.experimental_local_results(all_reduce()))
        times.append(time.perf_counter() - start)
    print(json.dumps({"parameters": int(sum(v.shape.num_elements() for v in model.trainable_variables)),
                      "median_ms": 1000 * statistics.median(times)}))
""")


def _sets(overrides):
    return [item for value in overrides for item in ("--set", value)]


def _epoch_seconds(run_dir):
    rows = [json.loads(line) for line in (pathlib.Path(run_dir) / "history.jsonl").read_text()
            .splitlines() if line.strip()]
    times = [row["time"] for row in rows]
    durations = [b - a for a, b in zip(times, times[1:])]
    return statistics.median(durations), len(rows)


def _train_size(run_dir):
    record = json.loads((pathlib.Path(run_dir) / "config.json").read_text())
    return record["data"]["split"]["sizes"]["train"]


def _dlsuite(args, cwd):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-m", "dlsuite.apps.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"dlsuite {' '.join(map(str, args))} failed:\n{done.stdout[-2000:]}"
                         f"\n{done.stderr[-2000:]}")


def one_process(root, epochs):
    run_dir = pathlib.Path(root) / "one"
    _dlsuite(["train", "cnn", *_sets(CONFIG), "--set", f"batch_size={GLOBAL_BATCH}",
              "--epochs", epochs, "--strategy", "default", "--precision", "float32",
              "--run-dir", run_dir, "--overwrite", "--quiet"], cwd=root)
    return run_dir


def two_workers(root, epochs):
    run_dir = pathlib.Path(root) / "two"
    _dlsuite(["launch", "--workers", 2, "--max-restarts", 0, "cnn", *_sets(CONFIG),
              "--set", f"batch_size={GLOBAL_BATCH // 2}", "--epochs", epochs,
              "--precision", "float32", "--run-dir", run_dir, "--overwrite", "--quiet"], cwd=root)
    return run_dir


def all_reduce_ms(calls):
    ports = free_ports(2)
    with tempfile.TemporaryDirectory() as root:
        script = pathlib.Path(root) / "probe.py"
        script.write_text(_PROBE)
        workers = [subprocess.Popen([sys.executable, str(script), str(calls)],
                                    env=worker_environment(ports, index), cwd=os.getcwd(),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                   for index in range(2)]
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    return json.loads(outputs[0].strip().splitlines()[-1])


def main(argv):
    quick = "--quick" in argv
    repeats, epochs = (1, 2) if quick else (3, 4)
    measured = {"one process": [], "two workers": []}
    with CpuShare() as share, tempfile.TemporaryDirectory() as root:
        for repeat in range(repeats):
            # Alternate which goes first: the VM drifts over minutes.
            order = (one_process, two_workers) if repeat % 2 == 0 else (two_workers, one_process)
            for run in order:
                run_dir = run(root, epochs)
                seconds, finished = _epoch_seconds(run_dir)
                name = "one process" if run is one_process else "two workers"
                examples = _train_size(run_dir)
                measured[name].append({"epoch_seconds": seconds, "epochs": finished,
                                       "examples_per_second": examples / seconds,
                                       "steps_per_epoch": -(-examples // GLOBAL_BATCH)})
                print(f"multi_worker {name}: {examples / seconds:.0f} examples/s "
                      f"(median epoch {seconds:.2f} s)", flush=True)
        probe = all_reduce_ms(50 if quick else 200)
    one = statistics.median(r["examples_per_second"] for r in measured["one process"])
    two = statistics.median(r["examples_per_second"] for r in measured["two workers"])
    steps = measured["two workers"][0]["steps_per_epoch"]
    two_step_ms = 1000 * statistics.median(r["epoch_seconds"] for r in measured["two workers"]) / steps
    ratio = two / one
    print(f"multi_worker: two workers / one process throughput {ratio:.2f}x "
          f"({two:.0f} / {one:.0f} examples/s, global batch {GLOBAL_BATCH}); all-reduce of "
          f"{probe['parameters']:,} float32 parameters {probe['median_ms']:.2f} ms per step "
          f"(two-worker epoch time per step {two_step_ms:.1f} ms, dev evaluation included); "
          f"other processes' CPU share {share.other:.0%}"
          f"{'' if comparable(share.other) else ' (NOT comparable: machine busy)'}", flush=True)
    write_result(result_name("multi_worker", quick), {
        "settings": {"config": CONFIG, "global_batch": GLOBAL_BATCH, "epochs": epochs,
                     "repeats": repeats},
        "runs": measured,
        "throughput_ratio_two_workers_over_one": ratio,
        "all_reduce": probe,
        "two_worker_ms_per_step": two_step_ms,
        "other_cpu_share": share.other,
        "comparable": comparable(share.other),
    })
