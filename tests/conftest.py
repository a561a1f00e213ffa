"""Fixtures shared by the test modules (the stub `aggregator`, `datadog_agent` and `dd_run_check`
fixtures come from datadog_checks_dev's pytest plugin)."""

import inspect
import time

import pytest
import strict_aggregator
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


# Every test's aggregator takes arguments as the Agent's builtin does (strict_aggregator.py, in
# front of the stub), for the stock check and this one alike. The differential modules run twice:
# also with the stub aggregator alone, as datadog-checks-base's own tests do.
STRICT_AGGREGATOR_MODULES = frozenset(
    {
        'test_bucket_counts',
        'test_same_as_stock',
        'test_deliberate_differences',
        'test_deliberate_differences_in_lines',
        'test_series_cache',
    }
)


def pytest_generate_tests(metafunc):
    takes_aggregator = 'aggregator' in inspect.signature(metafunc.function).parameters
    if metafunc.module.__name__ in STRICT_AGGREGATOR_MODULES and takes_aggregator:
        metafunc.parametrize('aggregator_mode', ['stub', 'strict'], indirect=True)


@pytest.fixture
def aggregator_mode(request):
    """`strict`: the Agent's argument rules in front of datadog-checks-base's stub aggregator
    (every test); `stub`: the stub as it is (the differential modules' second pass)."""
    return getattr(request, 'param', 'strict')


@pytest.fixture
def aggregator(aggregator, aggregator_mode, monkeypatch):
    if aggregator_mode == 'strict':
        strict_aggregator.install(monkeypatch, aggregator)
    return aggregator
