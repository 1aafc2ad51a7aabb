from __future__ import annotations

import sys

import numpy as np
import pytest

from paperzoo.core.memory import MemoryMeter, current_rss_bytes, peak_rss_bytes, reset_peak_rss

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")


@linux_only
def test_rss_grows_with_touched_memory():
    before = current_rss_bytes()
    block = np.ones(64 * 1024 * 1024 // 8)
    after = current_rss_bytes()
    assert after - before > 50 * 1024 * 1024
    del block


@linux_only
def test_meter_sees_a_temporary_peak():
    with MemoryMeter() as meter:
        block = np.ones(128 * 1024 * 1024 // 8)
        del block
    reading = meter.reading
    assert reading.above_start_mb > 100
    assert reading.peak_mb >= reading.start_mb + reading.above_start_mb - 1


@linux_only
def test_meter_resets_the_previous_peak():
    block = np.ones(256 * 1024 * 1024 // 8)
    del block
    if not reset_peak_rss():
        pytest.skip("this kernel does not allow resetting the peak RSS")
    with MemoryMeter() as meter:
        small = np.ones(1024)
        del small
    assert not meter.reading.peak_is_lifetime
    assert meter.reading.above_start_mb < 100


def test_peak_is_at_least_current():
    assert peak_rss_bytes() >= current_rss_bytes() * 0.9
