"""The style benchmark's arithmetic: where optimisation reaches a given style cost."""

import math

import pytest

from benchmarks.style_bench import steps_to_reach

CURVES = [[[0, 1000.0], [25, 100.0], [50, 10.0]],
          [[0, 3000.0], [25, 300.0], [50, 30.0], [75, 3.0]]]  # means 2000, 200, 20


def test_a_logged_mean_is_reached_at_its_step():
    assert steps_to_reach(CURVES, 200.0) == pytest.approx(25.0)
    assert steps_to_reach(CURVES, 5000.0) == 0.0


def test_between_logged_steps_the_mean_is_interpolated_in_log_space():
    # 2000 -> 200 over 25 steps: a tenfold fall; sqrt(10) of it is halfway.
    assert steps_to_reach(CURVES, 2000.0 / math.sqrt(10.0)) == pytest.approx(12.5)
    assert steps_to_reach(CURVES, 63.2) == pytest.approx(25 + 25 * math.log10(200 / 63.2))


def test_only_steps_every_curve_logged_count_and_a_cost_never_reached_is_none():
    assert steps_to_reach(CURVES, 19.0) is None  # step 75 is one photo's only
    assert steps_to_reach([[[0, 9.0], [25, 5.0]]], 1.0) is None
