"""Kill-and-resume: a process (single, chief or worker) killed with SIGKILL,
restarted, ends on the weights of an uninterrupted run, with every epoch in
the history once and the exact step count. Writes are atomic, and a corrupt
file of any kind falls back or stops with a clear error."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from dlsuite.apps.runtime import launch, training
from dlsuite.apps.errors import UsageError
from dlsuite.callbacks import RunBackup
from tests.runtime.helpers import TINY_MLP, cli_process, copy_run, saved_weights

# Long enough epochs (~60 steps) that a kill can land inside one.
KILLABLE = ["dataset=digits", "limit=1000", "hidden_units=32", "dropout=0", "patience=0",
            "batch_size=8", "learning_rate=0.02", "optimizer=minibatch_gd",
            "steps_per_execution=1"]
EPOCHS = 5


def _sets(overrides):
    return [item for value in overrides for item in ("--set", value)]


def _options(batch):
    return [*_sets(KILLABLE), "--set", f"batch_size={batch}", "--epochs", str(EPOCHS),
            "--precision", "float32", "--quiet"]


def _train_command(run_dir, batch):
    return ["train", "mlp", *_options(batch), "--run-dir", str(run_dir), "--strategy", "default"]


def _history_epochs(run_dir):
    return [row["epoch"] for row in training.RunDir(run_dir).read_history()]


def _wait_for_epochs(run_dir, count, process_alive, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_history_epochs(run_dir)) >= count:
            return
        assert process_alive(), "training ended before the kill"
        time.sleep(0.005)
    raise AssertionError(f"no {count} epochs in {run_dir} after {timeout} s")


def _uninterrupted(tmp_path, batch):
    run_dir = tmp_path / "uninterrupted"
    done = cli_process(_train_command(run_dir, batch), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def _assert_same_end(resumed, reference, steps_per_epoch):
    assert _history_epochs(resumed) == list(range(EPOCHS)), "no gap, no repeat"
    from dlsuite.apps.runtime import safe_load

    model = safe_load.load_model(resumed / "best.keras")
    assert int(model.optimizer.iterations.numpy()) == EPOCHS * steps_per_epoch
    worst = max(float(np.max(np.abs(a - b))) for a, b in
                zip(saved_weights(resumed / "best.keras"), saved_weights(reference / "best.keras")))
    assert worst < 2e-5, f"the resumed run ends {worst} away from the uninterrupted one"


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.15], ids=["at-epoch-end", "mid-epoch"])
def test_single_process_killed_resumes_to_the_uninterrupted_weights(tmp_path, delay):
    run_dir = tmp_path / "killed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen([sys.executable, "-m", "dlsuite.apps.cli", *_train_command(run_dir, 8)],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for_epochs(run_dir, 2, lambda: process.poll() is None)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed = cli_process(["train", "mlp", "--resume", run_dir, "--quiet"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same_end(run_dir, _uninterrupted(tmp_path, 8), steps_per_epoch=100)


@pytest.mark.slow
@pytest.mark.parametrize("victim", [0, 1], ids=["chief", "worker"])
def test_launch_restarts_after_a_worker_is_killed_and_ends_like_an_uninterrupted_run(
        tmp_path, victim):
    run_dir = tmp_path / "two"
    said = []
    runner = launch.Launch(2, "mlp", _options(4), run_dir, max_restarts=1, say=said.append)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", runner.run()))
    thread.start()
    try:
        _wait_for_epochs(run_dir, 2, thread.is_alive)
        time.sleep(0.1)
        os.kill(runner.processes[victim].pid, signal.SIGKILL)
    finally:
        thread.join(timeout=600)
    assert result.get("code") == 0, "\n".join(said)
    assert any(f"worker {victim} failed (killed by SIGKILL)" in line for line in said), said
    assert any("(resuming)" in line for line in said), said
    # Global batch 2 x 4 = 8: the uninterrupted single process takes batch 8.
    _assert_same_end(run_dir, _uninterrupted(tmp_path, 8), steps_per_epoch=100)


# -- atomic writes and corrupt files (fast) --------------------------------------------


def _backups(run_dir):
    return RunBackup.backups(run_dir / "backup")


def test_backups_are_whole_directories_and_the_newest_two_are_kept(finished):
    backups = _backups(finished)
    assert [b.name for b in backups] == ["epoch-000003", "epoch-000002"]
    for backup in backups:
        assert RunBackup.read_state(backup)["epoch"] == int(backup.name.split("-")[1])
    assert not list((finished / "backup").glob(".partial-*"))


def test_a_kill_during_a_backup_save_leaves_the_last_backup_whole(finished, tmp_path):
    copy = copy_run(finished, tmp_path)
    session = training.reopen(copy, verbose=0)
    model = training.build(session)

    def torn_save(path):
        with open(path, "wb") as handle:
            handle.write(b"\x89HDF\r\n\x1a\n half a file")
        raise KeyboardInterrupt("killed while saving")

    model.save_weights = torn_save
    backup = RunBackup(copy / "backup")
    backup.set_model(model)
    with pytest.raises(KeyboardInterrupt):
        backup.save(4)
    assert [b.name for b in _backups(copy)] == ["epoch-000003", "epoch-000002"]
    assert RunBackup.latest_epoch(copy / "backup") == 3


@pytest.mark.parametrize("damage", ["truncate-weights", "garble-state", "delete-weights"])
def test_a_corrupt_newest_backup_falls_back_to_the_one_before(finished, tmp_path, damage):
    copy = copy_run(finished, tmp_path)
    newest = _backups(copy)[0]
    if damage == "truncate-weights":
        data = (newest / "model.weights.h5").read_bytes()
        (newest / "model.weights.h5").write_bytes(data[: len(data) // 2])
    elif damage == "garble-state":
        (newest / "state.json").write_text("{not json")
    else:
        (newest / "model.weights.h5").unlink()
    said = []
    session = training.reopen(copy, verbose=0)
    model = training.build(session)
    backup = RunBackup(copy / "backup", log=said.append)
    backup.set_model(model)
    backup.on_train_begin()
    assert backup.restored_epoch == 2
    assert any("epoch-000003" in line and "trying the one before" in line for line in said)


def test_when_every_backup_is_corrupt_resume_stops_with_a_clear_error(finished, tmp_path):
    copy = copy_run(finished, tmp_path)
    for backup in _backups(copy):
        (backup / "state.json").write_text("garbage")
    with pytest.raises(UsageError, match="none of the 2 backup.*refusing to start from scratch"):
        training.train("mlp", epochs=4, resume=copy, verbose=0)


@pytest.mark.parametrize("kind, command, message", [
    ("best.keras", "evaluate", "neither a .keras archive nor an HDF5 file"),
    ("config.json", "evaluate", "config.json is corrupt"),
    ("export/saved_model.pb", "predict", "cannot load the export"),
])
def test_each_corrupt_file_kind_is_a_clear_error(finished, tmp_path, kind, command, message):
    from dlsuite.apps.runtime import commands

    copy = copy_run(finished, tmp_path)
    (copy / kind).write_bytes(b"\x00garbage" * 4)
    with pytest.raises(UsageError, match=message):
        if command == "predict":
            sample = tmp_path / "x.csv"
            sample.write_text(",".join(["0"] * 64) + "\n")
            commands.predict(str(copy), [str(sample)])
        else:
            commands.evaluate(str(copy), verbose=0)


def test_a_torn_history_line_and_a_garbled_metrics_file_are_survived(finished, tmp_path):
    from dlsuite.apps.runtime import commands

    copy = copy_run(finished, tmp_path)
    with open(copy / "history.jsonl", "a") as handle:
        handle.write('{"epoch": 3, "loss": 0.')
    assert _history_epochs(copy) == [0, 1, 2]
    (copy / "metrics.json").write_text("{garbled")
    results = commands.evaluate(str(copy), verbose=0)
    assert "test" in results and json.loads((copy / "metrics.json").read_text())["evaluation"]


def test_an_export_swapped_half_way_is_recovered(finished, tmp_path):
    from dlsuite.apps.runtime import atomic

    copy = copy_run(finished, tmp_path)
    os.rename(copy / "export", copy / "export.old")  # a kill between the two renames
    atomic.recover_dir(copy / "export")
    assert (copy / "export" / "saved_model.pb").exists()


def test_a_second_writer_of_a_run_is_refused(finished, tmp_path):
    copy = copy_run(finished, tmp_path)
    holder = training.reopen(copy, verbose=0, lock=True)
    try:
        with pytest.raises(UsageError, match="is being written by dlsuite process"):
            training.train("mlp", epochs=4, resume=copy, verbose=0)
        with pytest.raises(UsageError, match="is being written by"):
            training.train("mlp", TINY_MLP, epochs=1, run_dir=copy, overwrite=True, verbose=0)
    finally:
        holder.release()
    session, _ = training.train("mlp", epochs=4, resume=copy, verbose=0)
    assert _history_epochs(copy) == [0, 1, 2, 3]
