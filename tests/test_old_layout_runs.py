"""Run directories written before the house moved (issue 31) still work.

``tests/fixtures/old_layout_runs/`` holds two runs trained on main at fd91449,
when the packages were top-level ``apps``/``layers``/``losses``/``callbacks``
and StyleGAN was ``gan --set variant=stylegan``: a tiny mlp (2 epochs) and a
tiny StyleGAN (1 epoch). Their record, ``best.keras``, history, metrics and
last backup are kept (TensorBoard events, the export and figures left out).
Each must evaluate, export and resume on the current layout.
"""

import json
import shutil

import pytest

from dlsuite.apps.cli import main

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "old_layout_runs"


def _copy(name, tmp_path):
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    return run


@pytest.mark.parametrize("name, metric", [("mlp", "accuracy"), ("stylegan", None)])
def test_old_run_evaluates_exports_and_resumes(tmp_path, capsys, name, metric):
    run = _copy(name, tmp_path)
    before = json.loads((run / "metrics.json").read_text())
    finished = len((run / "history.jsonl").read_text().splitlines())

    assert main(["evaluate", str(run)]) == 0
    after = json.loads((run / "metrics.json").read_text())
    if metric:
        # The same weights on the same seeded split give the same figure.
        assert after["evaluation"]["test"][metric] == pytest.approx(
            before["evaluation"]["test"][metric], abs=1e-6)
    assert set(after["evaluation"]) == set(before["evaluation"])

    assert main(["export", str(run)]) == 0
    assert (run / "export" / "saved_model.pb").exists()
    assert json.loads((run / "metrics.json").read_text())["export"]["signatures"]

    record = json.loads((run / "config.json").read_text())
    app = record["app"]
    assert main(["train", app, "--resume", str(run), "--epochs", str(finished + 1),
                 "--quiet"]) == 0
    rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    # The resumed run continued after the last finished epoch; none was redone.
    assert [row["epoch"] for row in rows] == list(range(finished + 1))
