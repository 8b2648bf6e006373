"""The measuring tools the benchmarks rely on."""

import json
import pathlib

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
    here = common.machine()
    (tmp_path / "x.json").write_text(json.dumps({"runs": {"a": {"v": 1}, "b": {"v": 2}}}))
    assert common.merged_runs("x", {"b": {"v": 3}}) == {"a": {"v": 1},
                                                        "b": {"v": 3, "machine": here}}
    assert common.merged_runs("missing", {"b": {"v": 3}}) == {"b": {"v": 3, "machine": here}}


def test_merged_runs_stamps_new_runs_and_keeps_every_earlier_stamp(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    elsewhere = {"cpus": 64, "processor": "another machine (amx_bf16)"}
    (tmp_path / "x.json").write_text(json.dumps({"runs": {"a": {"v": 1, "machine": elsewhere}}}))
    new = {"b": {"v": 3}, "c": {"v": 4, "machine": elsewhere}, "d": 0.5}
    merged = common.merged_runs("x", new)
    assert merged["a"]["machine"] == elsewhere  # measured before, elsewhere
    assert merged["b"]["machine"] == common.machine() != elsewhere
    assert merged["c"]["machine"] == elsewhere  # a run that stamped itself
    assert merged["d"] == 0.5  # not a dict: nothing to stamp
    assert new["b"] == {"v": 3}  # the caller's runs are not changed


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


def test_small_map_conv_switch_turns_the_matmul_gradient_off_and_back_on():
    from benchmarks.small_map_conv_bench import matmul_gradient
    from dlsuite.layers import BottleneckBlock

    def limits():
        block = BottleneckBlock(filters=4, strides=2)
        block.build((1, 4, 4, 8))
        convolutions = [layer for layer in block._layers if hasattr(layer, "kernel_size")]
        return {layer.matmul_gradient_max_positions for layer in convolutions}

    with matmul_gradient(False):
        assert limits() == {0}  # the "oneDNN" variant really times Conv2D's gradient
    assert limits() == {4}
    with matmul_gradient(True):
        assert limits() == {4}


def test_torch_child_reports_each_variant_and_keeps_going_after_a_failure(capsys, monkeypatch):
    import sys
    import types

    from benchmarks import torch_child

    threads = []  # torch itself is only in the bench extra: a stand-in records the call
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(
        set_num_threads=threads.append, get_num_threads=lambda: 2))

    def measure(settings, compiled, bfloat16):
        if compiled:
            raise RuntimeError("no C++ compiler")
        return {"seconds": settings["scale"] * (2 if bfloat16 else 1)}

    settings = {"threads": 1, "scale": 3, "variants": [["eager float32", False, False],
                                                       ["compiled", True, False],
                                                       ["eager bf16", False, True]]}
    torch_child.serve([json.dumps(settings)], measure)
    assert threads == [1]
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert results["eager float32"] == {"seconds": 3} and results["eager bf16"] == {"seconds": 6}
    assert "no C++ compiler" in results["compiled"]["error"]


def test_torch_bf16_speedups_pair_each_kind_and_skip_incomplete_ones():
    from benchmarks import torch_child

    results = {"eager float32": {"s": 3.0}, "eager bf16 autocast": {"s": 2.0},
               "torch.compile float32": {"s": 4.0},
               "torch.compile bf16 autocast": {"error": "no compiler"}}
    assert torch_child.bf16_speedups(results, "s") == {"eager": 1.5}


def test_torch_variants_are_the_names_bf16_speedups_pairs():
    from benchmarks import torch_child

    for quick, kinds in ((True, {"eager"}), (False, {"eager", "torch.compile"})):
        results = {name: {"s": 2.0 if bfloat16 else 3.0}
                   for name, _, bfloat16 in torch_child.variants(quick)}
        assert torch_child.bf16_speedups(results, "s") == {kind: 1.5 for kind in kinds}


def test_cpu_model_names_the_model_and_only_the_bf16_units_it_has(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU 9000\n"
                    "flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n\n"
                    "processor\t: 1\nmodel name\t: Some CPU 9000\n")
    assert common.cpu_model(info) == "Some CPU 9000 (avx512_bf16, amx_bf16)"
    info.write_text("model name\t: Older CPU\nflags\t\t: fpu avx2\n")
    assert common.cpu_model(info) == "Older CPU (no bf16 units)"
    assert common.cpu_model(tmp_path / "missing")  # falls back, never raises


def test_rcnn_table_reads_the_best_yolo_run_and_says_where_each_run_was_measured(
        tmp_path, monkeypatch):
    from benchmarks import rcnn_bench

    def yolo_run(map_50):
        return {"map_50": map_50, "map": map_50 / 2, "training_seconds": 1200,
                "detect": {"batch_1": {"images_per_second": 100.0}}}

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "yolo.json").write_text(json.dumps({"runs": {
        "yolo_digits": yolo_run(0.91), "yolo_digits_wide": yolo_run(0.95),
        "yolo_digits_ciou": yolo_run(0.92), "ultralytics_yolov8n": {"map_50": 0.99}}}))
    monkeypatch.setattr(rcnn_bench, "ROOT", tmp_path)
    assert rcnn_bench.yolo_row()["name"] == "yolo_digits_wide"
    here = {"processor": "CPU A"}
    runs = {"faster_digits": {"map_50": 0.9, "map": 0.7, "training_seconds": 1200,
                              "detect_images_per_second": 50.0, "machine": here},
            "fast_digits": {"map_50": 0.8, "map": 0.6, "training_seconds": 1200,
                            "detect_images_per_second": 40.0}}
    text = rcnn_bench.table(runs)
    assert "yolo: yolo_digits_wide" in text and "| 0.950 |" in text
    assert "rcnn_digits | pending" in text
    assert "Measured on CPU A (no machine recorded for fast_digits)" in text


def test_a_failed_run_is_kept_and_the_error_still_raised(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "FAILED_RUNS", tmp_path / "runs")
    run_dir = tmp_path / "tmp" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "history.jsonl").write_text("{}\n")
    with pytest.raises(RuntimeError, match="export check"):
        with common.kept_if_failed(run_dir, "x_bench_a"):
            raise RuntimeError("export check")
    assert (tmp_path / "runs" / "x_bench_a_failed" / "history.jsonl").read_text() == "{}\n"
    with common.kept_if_failed(run_dir, "x_bench_b"):
        pass
    assert not (tmp_path / "runs" / "x_bench_b_failed").exists()


def test_a_temporary_run_is_removed_after_success_and_kept_after_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "FAILED_RUNS", tmp_path / "runs")
    with common.temporary_run("x_bench_ok") as run_dir:
        assert not pathlib.Path(run_dir).exists()  # training.train creates it
        pathlib.Path(run_dir).mkdir()
        (pathlib.Path(run_dir) / "history.jsonl").write_text("{}\n")
    assert not pathlib.Path(run_dir).parent.exists()
    assert not (tmp_path / "runs" / "x_bench_ok_failed").exists()
    with pytest.raises(FloatingPointError, match="NaN loss"):
        with common.temporary_run("x_bench_nan") as run_dir:
            pathlib.Path(run_dir).mkdir()
            (pathlib.Path(run_dir) / "history.jsonl").write_text('{"loss": 1}\n')
            raise FloatingPointError("NaN loss")
    assert not pathlib.Path(run_dir).parent.exists()
    kept = tmp_path / "runs" / "x_bench_nan_failed" / "history.jsonl"
    assert kept.read_text() == '{"loss": 1}\n'


def test_result_printing_helpers_say_the_same_in_every_benchmark():
    from benchmarks.common import MAX_OTHER_CPU_SHARE, cpu_share_note, record_target, result_name

    assert cpu_share_note(0.03) == "other processes used 3% of the CPU"
    assert cpu_share_note(MAX_OTHER_CPU_SHARE + 0.1).endswith(" -- busy machine, not comparable")
    assert result_name("yolo", quick=True) == "yolo_quick"
    assert result_name("yolo", quick=False) == "yolo"
    assert record_target({}, 0.95, 0.9) == {"target": 0.9, "reached": True}
    assert record_target({}, 0.85, 0.9) == {"target": 0.9, "reached": False}
    assert record_target({"a": 1}, None, 0.9) == {"a": 1}  # a failed run has no verdict
