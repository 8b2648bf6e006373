"""The dlsuite command: every user error is one clear line and exit status 2."""

import json
import os
import subprocess
import sys

import pytest

from dlsuite.apps.cli import main

TINY = ["--set", "dataset=digits", "--set", "limit=200", "--set", "hidden_units=16",
        "--set", "learning_rate=0.01", "--precision", "float32", "--strategy", "default",
        "--quiet"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv, message", [
    (["train", "nosuchapp"], "unknown app 'nosuchapp'; valid apps: .*mlp"),
    (["train", "mlp", "--set", "colour=red"], "unknown config key 'colour'.*valid keys: .*learning_rate"),
    (["train", "mlp", "--set", "epochs=many"], "bad value for epochs: 'many'; expected int"),
    (["train", "mlp", "--set", "learning_rate=-0.1"], r"learning_rate must be > 0. Received: learning_rate=-0.1"),
    (["train", "mlp", "--set", "activation=swish"], "expected one of relu, tanh, sigmoid"),
    (["train", "mlp", "--set", "optimizer=lion"], "expected one of batch_gd, sgd, minibatch_gd"),
    (["train", "mlp", "--set", "noequals"], "--set expects key=value"),
    (["train", "mlp", "--epochs", "0"], "expected a positive integer"),
    (["train", "mlp", "--strategy", "tpu"], "invalid choice: 'tpu'"),
    (["train", "mlp", "--strategy", "multi_worker"], "multi_worker needs TF_CONFIG"),
    (["train", "mlp", "--precision", "fp8"], "invalid choice: 'fp8'"),
    (["train", "mlp", "--set", "dataset=csv"], "dataset=csv needs --set data_dir"),
    (["train", "mlp", "--set", "dataset=csv", "--set", "data_dir=/nonexistent/x.csv"], "/nonexistent/x.csv"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_user_errors_are_one_line_with_exit_status_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("dlsuite") and len([l for l in lines if l.startswith("dlsuite")]) == 1
    import re
    assert re.search(message, lines[-1]), lines[-1]


def test_unwritable_run_directory(capsys, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a directory")
    code, _, err = run_cli(capsys, "train", "mlp", *TINY, "--run-dir", str(blocked / "run"))
    assert code == 2 and "cannot write the run directory" in err


def test_resume_of_a_directory_that_is_no_run(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "mlp", "--resume", str(tmp_path))
    assert code == 2 and "is not a dlsuite run" in err
    code, _, err = run_cli(capsys, "evaluate", str(tmp_path / "nope"))
    assert code == 2 and "is not a directory" in err


def test_train_evaluate_report_predict_end_to_end(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "mlp", *TINY, "--epochs", "2", "--run-dir", str(run_dir),
                             "--set", "human_error=0.01", "--set", "max_latency_ms=1000")
    assert code == 0, err
    for name in ("config.json", "history.jsonl", "best.keras", "metrics.json", "report.md",
                 "learning_curves.png", "confusion_matrix.png", "export/saved_model.pb"):
        assert (run_dir / name).exists(), name
    assert os.listdir(run_dir / "tb")
    record = json.loads((run_dir / "config.json").read_text())
    assert record["app"] == "mlp" and record["config"]["limit"] == 200
    assert record["data"]["split"]["sizes"] == {"train": 160, "dev": 20, "test": 20}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    analysis = metrics["bias_variance"]
    assert analysis["avoidable_bias"] == pytest.approx(analysis["train_error"] - 0.01)
    assert analysis["variance"] == pytest.approx(analysis["dev_error"] - analysis["train_error"])
    assert metrics["export"]["latency_ok"] is True
    report = (run_dir / "report.md").read_text()
    for heading in ("Single-number metric", "Bias and variance", "Error analysis", "satisficing"):
        assert heading in report

    # A second train into the same directory is refused, not silently overwritten.
    code, _, err = run_cli(capsys, "train", "mlp", *TINY, "--epochs", "1", "--run-dir", str(run_dir))
    assert code == 2 and "already holds a run" in err

    code, out, _ = run_cli(capsys, "evaluate", str(run_dir))
    assert code == 0 and "test accuracy=" in out
    code, out, _ = run_cli(capsys, "report", str(run_dir))
    assert code == 0 and "report.md" in out
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(",".join(["0"] * 64) for _ in range(2)))
    code, out, _ = run_cli(capsys, "predict", str(run_dir), str(rows))
    assert code == 0 and len(out.strip().splitlines()) == 2
    code, _, err = run_cli(capsys, "predict", str(run_dir), str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_list_names_every_app(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert "mlp" in names and "optimizers" in names


def test_console_script_exits_2_without_traceback():
    result = subprocess.run([sys.executable, "-m", "dlsuite.apps.cli", "train", "mlp", "--set", "epochs=x"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad value for epochs" in result.stderr
