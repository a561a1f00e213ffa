"""The comparison of clock-derived values (`time_elapsed`) between two checks' runs: no fixed
tolerance, only the clock windows of the runs (common.assert_same_clock_origin)."""

import pytest
from common import assert_same_clock_origin

ORIGIN = 1_700_000_000.25


def test_values_from_one_origin_agree_however_slow_the_runs():
    # the first run took 30 s, the second ran a minute later
    stock_window, our_window = (ORIGIN + 100, ORIGIN + 130), (ORIGIN + 190, ORIGIN + 191)
    assert_same_clock_origin(129.5, stock_window, 190.5, our_window)


def test_values_from_different_origins_fail():
    window = (ORIGIN + 100, ORIGIN + 101)
    with pytest.raises(AssertionError, match='no common origin'):
        assert_same_clock_origin(100.5, window, 102.5, window)  # origins 2 s apart, runs of 1 s


def test_a_value_outside_its_own_window_fails():
    with pytest.raises(AssertionError, match='no common origin'):
        assert_same_clock_origin(100.5, (ORIGIN + 100, ORIGIN + 101), 0.5, (ORIGIN + 100, ORIGIN + 101))
