"""``dlsuite launch --workers N APP ...``: N local workers of one
multi-worker run, for a single host and for tests.

Each worker is ``dlsuite train APP --strategy multi_worker --run-dir RUN``
with its own ``TF_CONFIG`` naming every worker on 127.0.0.1 at free ports;
worker 0 is the chief. The chief's output is this command's output; the
other workers' goes to log files whose tails are shown if one fails. When a
worker fails (an error, or killed by a signal) every other worker is stopped;
with restarts left, all of them start again with ``--resume RUN``, so
training continues from the chief's last backup. Ctrl-C stops every worker.

This module imports no TensorFlow: the launcher stays a small process.
"""

import datetime
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from dlsuite.apps.errors import UsageError

# Exit statuses that mean "fix something first", never "start again".
NOT_RESTARTABLE = {2: "a usage error", 3: "the loss diverged"}


def free_ports(count):
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
            ports.append(handle.getsockname()[1])
    finally:
        for handle in sockets:
            handle.close()
    return ports


def tf_config(ports, index):
    """The ``TF_CONFIG`` of worker ``index`` of a cluster on 127.0.0.1."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
                       "task": {"type": "worker", "index": index}})


def worker_environment(ports, index, base=None):
    env = dict(os.environ if base is None else base)
    env["TF_CONFIG"] = tf_config(ports, index)
    # Share the host's cores between the workers instead of each taking all.
    threads = max(1, (os.cpu_count() or 1) // len(ports))
    env.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    env.setdefault("TF_NUM_INTEROP_THREADS", "2")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _describe(code):
    if code is None:
        return "running"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


class Launch:
    """N local worker processes of one run, restarted together on a failure."""

    def __init__(self, workers, app, train_args, run_dir, max_restarts=3, python=None,
                 poll_seconds=0.2, say=print):
        if workers < 1:
            raise UsageError(f"--workers must be >= 1. Received: --workers {workers}")
        if max_restarts < 0:
            raise UsageError(f"--max-restarts must be >= 0. Received: {max_restarts}")
        self.workers, self.app = workers, app
        self.train_args = list(train_args)
        self.run_dir = pathlib.Path(run_dir)
        self.max_restarts = max_restarts
        self.python = python or sys.executable
        self.poll_seconds = poll_seconds
        self.say = say
        self.logs = pathlib.Path(tempfile.mkdtemp(prefix="dlsuite-launch-"))
        self.processes = []
        self.attempt = 0

    def command(self, resume):
        base = [self.python, "-m", "dlsuite.apps.cli", "train", self.app, "--strategy", "multi_worker"]
        if resume:
            # A resumed run keeps its recorded config; only --quiet carries over.
            extra = [arg for arg in self.train_args if arg == "--quiet"]
            return base + ["--resume", str(self.run_dir)] + extra
        return base + ["--run-dir", str(self.run_dir)] + self.train_args

    def start(self, resume):
        ports = free_ports(self.workers)
        command = self.command(resume)
        self.say(f"launch: {self.workers} worker(s) on 127.0.0.1:{','.join(map(str, ports))}, "
                 f"run {self.run_dir}" + (" (resuming)" if resume else ""))
        self.processes = []
        for index in range(self.workers):
            if index == 0:
                output = None  # the chief speaks through this command
            else:
                output = open(self.log_path(index), "ab")
            self.processes.append(subprocess.Popen(
                command, env=worker_environment(ports, index), stdout=output,
                stderr=subprocess.STDOUT if output else None, start_new_session=True))
            if output:
                output.close()

    def log_path(self, index):
        return self.logs / f"worker-{index}-attempt-{self.attempt}.log"

    def stop(self, grace_seconds=5.0):
        """Stop every worker still running: SIGTERM, then SIGKILL."""
        for process in self.processes:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for process in self.processes:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def wait(self):
        """Wait for every worker; return the index and status of the first to
        fail, or None when all succeeded."""
        while True:
            codes = [process.poll() for process in self.processes]
            for index, code in enumerate(codes):
                if code not in (None, 0):
                    return index, code
            if all(code == 0 for code in codes):
                return None
            time.sleep(self.poll_seconds)

    def tail(self, index, lines=15):
        if index == 0:
            return ""
        try:
            text = self.log_path(index).read_text(errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if line.strip()][-lines:]
        return "\n".join(f"  worker {index} | {line}" for line in kept)

    def run(self, resume=False):
        """Run to the end; return the exit status of ``dlsuite launch``."""
        try:
            while True:
                self.start(resume)
                failure = self.wait()
                if failure is None:
                    self.say(f"launch: all {self.workers} worker(s) finished; run {self.run_dir}")
                    shutil.rmtree(self.logs, ignore_errors=True)
                    return 0
                index, code = failure
                self.stop()
                self.say(f"launch: worker {index} failed ({_describe(code)}); stopped the others")
                tail = self.tail(index)
                if tail:
                    self.say(tail)
                if code in NOT_RESTARTABLE:
                    self.say(f"launch: not restarting after {NOT_RESTARTABLE[code]}")
                    return code
                if self.attempt >= self.max_restarts:
                    self.say(f"launch: no restarts left (--max-restarts {self.max_restarts}); "
                             f"resume with `dlsuite launch --workers {self.workers} {self.app} "
                             f"--resume {self.run_dir}`; worker logs in {self.logs}")
                    return 1
                self.attempt += 1
                resume = (self.run_dir / "config.json").exists()
                self.say(f"launch: restart {self.attempt} of {self.max_restarts}")
        except KeyboardInterrupt:
            self.stop()
            self.say("launch: interrupted; stopped every worker")
            return 130


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def default_run_dir(app):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return pathlib.Path("runs") / app / stamp
