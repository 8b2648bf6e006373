"""The measuring tools the benchmarks rely on."""

import json

import keras
import pytest

from benchmarks import common
from benchmarks.profile_ops import profile_train_steps

RUNS = {"a": 1, "b": 2, "c": 3}


def test_selected_runs_all_by_default_and_in_declared_order():
    assert common.selected_runs(["--quick"], RUNS) == ["a", "b", "c"]
    assert common.selected_runs(["--only=c,a"], RUNS) == ["a", "c"]


def test_selected_runs_refuses_an_unknown_name_and_lists_the_valid_ones():
    with pytest.raises(SystemExit, match=r"unknown run\(s\) \['d'\]; valid: a, b, c"):
        common.selected_runs(["--only=a,d"], RUNS)


def test_merged_runs_keeps_runs_measured_before(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    (tmp_path / "x.json").write_text(json.dumps({"runs": {"a": {"v": 1}, "b": {"v": 2}}}))
    assert common.merged_runs("x", {"b": {"v": 3}}) == {"a": {"v": 1}, "b": {"v": 3}}
    assert common.merged_runs("missing", {"b": {"v": 3}}) == {"b": {"v": 3}}


def test_profile_counts_the_kernels_of_a_train_step_and_not_their_callers():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(10)])
    totals, wall = profile_train_steps(model, common.repeated_batch((64,), 10, 32), steps=3)
    assert wall > 0
    assert sum(totals.values()) > 0
    # Dense layers run as (fused) matmuls, forward and backward.
    assert any("MatMul" in op for op in totals), totals
    assert not {"PartitionedCall", "StatefulPartitionedCall", "While"} & set(totals)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "float32"])
def test_step_timing_builds_and_trains_under_the_precision_it_reports(precision):
    built = []

    def build():
        built.append(keras.config.dtype_policy().name)
        return keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(3, activation="softmax", dtype="float32")])

    seconds = common.step_seconds_per_epoch(build, (4, 4, 1), 3, 8, precision, steps=2, epochs=2)
    assert built == [precision]
    assert len(seconds) == 1 and seconds[0] > 0
    assert keras.config.dtype_policy().name == "float32"  # restored for whatever runs next
