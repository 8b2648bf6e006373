"""The optimizer study: one run per optimizer from the same initial weights."""

import json

from dlsuite.apps.runtime import training


def test_study_trains_each_optimizer_from_the_same_weights(tmp_path):
    run_dir = tmp_path / "study"
    session, metrics = training.train(
        "optimizers", ["limit=200", "hidden_units=16", "optimizers=batch_gd,sgd,adam"],
        epochs=2, strategy="default", precision_name="float32", run_dir=run_dir, verbose=0)
    per_optimizer = metrics["optimizers"]
    assert list(per_optimizer) == ["batch_gd", "sgd", "adam"]
    assert len({m["initial_weights_sha256"] for m in per_optimizer.values()}) == 1
    # Batch GD takes the whole training set per step, SGD one example.
    assert per_optimizer["batch_gd"]["batch_size"] == 160
    assert per_optimizer["sgd"]["batch_size"] == 1
    assert per_optimizer["adam"]["batch_size"] == 32
    for name in per_optimizer:
        assert (run_dir / name / "tb").is_dir()
        history = [json.loads(line) for line in (run_dir / name / "history.jsonl").read_text().splitlines()]
        assert [row["epoch"] for row in history] == [0, 1]
    # Different optimizers really took different paths.
    losses = {m["final_dev_loss"] for m in per_optimizer.values()}
    assert len(losses) == 3
    assert (run_dir / "optimizers.png").stat().st_size > 1000
    report = (run_dir / "report.md").read_text()
    assert "| sgd |" in report and "wall-clock" in report
