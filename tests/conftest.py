"""Fixtures shared by the test modules (the stub `aggregator`, `datadog_agent` and `dd_run_check`
fixtures come from datadog_checks_dev's pytest plugin)."""

import time

import pytest
from common import PayloadServer

from datadog_checks.nvidia_nim.emulator import NimEmulator


@pytest.fixture
def payload_server():
    with PayloadServer() as server:
        yield server


@pytest.fixture
def emulator():
    with NimEmulator(models=1) as emu:
        yield emu


@pytest.fixture(autouse=True)
def stamp_aggregator_resets(aggregator, monkeypatch):
    """The stub aggregator remembers when it was last reset (`reset_at`): what a snapshot recorded
    was submitted between then and the snapshot, which is how clock-derived values are compared
    (common.assert_same_submissions)."""
    reset = aggregator.reset

    def stamped_reset():
        reset()
        aggregator.reset_at = time.time()

    monkeypatch.setattr(aggregator, 'reset', stamped_reset)
    aggregator.reset_at = time.time()
