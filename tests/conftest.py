"""Fixtures shared by the test modules (the stub `aggregator`, `datadog_agent` and `dd_run_check`
fixtures come from datadog_checks_dev's pytest plugin)."""

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
