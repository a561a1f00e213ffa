"""Runs datadog-checks-base's own OpenMetrics V2 tests (`tests/base/checks/openmetrics/test_v2` of
its source distribution, fetched by `scripts/datadog-v2-suite`) against this check.

A pytest plugin (`-p datadog_v2_adapter`): with `--v2-check native`, wherever those tests build
`OpenMetricsBaseCheckV2` (its `get_check` helper, or a subclass of their own) they get `V2Check`:
this check with the generic V2 defaults (no metric map, no label renames, the namespace from the
class or the instance, the V2 metric limit, no NIM version lookup). With `--v2-check stock` they
run unchanged, against the stock class. `--v2-aggregator strict` puts the Agent-strict aggregator
(strict_aggregator.py) in front of the stub for both. `--v2-results FILE` records each test's outcome;
`python tests/datadog_v2_adapter.py STOCK NATIVE` compares two such files: every test must pass
here, or fail on the stock class too.

Tests that reach into the stock scraper's internals do not apply (`NOT_APPLICABLE`, skipped).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

NOT_APPLICABLE = {
    'test_bench.py': 'a benchmark of the stock scraper (pytest-benchmark)',
    'test_interface.py::test_custom_transformer': "adds a transformer through the stock scraper's metric_transformer",
    'test_interface.py::test_service_check_dynamic_tags': (
        "the stock class's set_dynamic_tags, which hands tags to its scrapers; the nvidia_nim check never calls it"
    ),
    'test_options.py::TestEnableHealthServiceCheck::test_failure': (
        "replaces the stock scraper's send_request (check.scrapers[...])"
    ),
    'test_config.py::TestUseLatestSpec': "reads the stock scraper's HTTP wrapper (check.scrapers[...].http)",
}


_OUTCOMES: dict[str, tuple[str, str]] = {}


def pytest_addoption(parser):
    group = parser.getgroup('datadog-v2')
    group.addoption('--v2-check', choices=('native', 'stock'), default='native')
    group.addoption('--v2-results', default=None)
    group.addoption('--v2-aggregator', choices=('stub', 'strict'), default='stub')


@pytest.fixture(autouse=True)
def _v2_aggregator(request, monkeypatch):
    """With `--v2-aggregator strict`, the Agent's argument rules (strict_aggregator.py) in front of
    the stub aggregator, for the stock class and this check alike."""
    if request.config.getoption('--v2-aggregator') == 'strict':
        import strict_aggregator

        strict_aggregator.install(monkeypatch, request.getfixturevalue('aggregator'))


def make_v2_check() -> type:
    """`NvidiaNIMCheck` as a generic OpenMetrics V2 check."""
    import datadog_checks.nvidia_nim.config as nim_config
    from datadog_checks.base import ConfigurationError, OpenMetricsBaseCheckV2
    from datadog_checks.nvidia_nim import NvidiaNIMCheck

    class V2Check(NvidiaNIMCheck):
        __NAMESPACE__ = ''
        DEFAULT_METRIC_LIMIT = OpenMetricsBaseCheckV2.DEFAULT_METRIC_LIMIT

        def get_default_config(self) -> dict[str, Any]:
            return {}

        def _configure(self) -> None:
            namespace = self.__NAMESPACE__ or self.instance.get('namespace', '')
            if not isinstance(namespace, str):
                raise ConfigurationError('Setting `namespace` must be a string')
            defaults = {'metrics': [], 'rename_labels': {}, **self.get_default_config()}
            original = nim_config.default_config
            nim_config.default_config = lambda: {key: value for key, value in defaults.items()}
            try:
                super()._configure()
            finally:
                nim_config.default_config = original
            self._v2_namespace = namespace

        def check(self, instance) -> None:
            saved = self.__NAMESPACE__
            self.__NAMESPACE__ = self._v2_namespace or saved
            try:
                super().check(instance)
            finally:
                self.__NAMESPACE__ = saved

        def _namespaced(self, name: str) -> str | None:
            full = f'{self.__NAMESPACE__}.{name}' if self.__NAMESPACE__ else name
            return full if self.should_send_metric(full) else None

        def submit_version_metadata(self, endpoint: str) -> None:
            """A generic V2 check has no version lookup."""

    return V2Check


def pytest_configure(config):
    config.addinivalue_line('markers', 'not_applicable(reason): reaches into the stock scraper')
    if config.getoption('--v2-check') == 'native':
        import datadog_checks.base

        # before the test modules import it: their subclasses and `get_check` build this check
        datadog_checks.base.OpenMetricsBaseCheckV2 = make_v2_check()


def pytest_collection_modifyitems(config, items):
    for item in items:
        for key, reason in NOT_APPLICABLE.items():
            if item.nodeid.split('test_v2/', 1)[-1].startswith(key):
                item.add_marker(pytest.mark.skip(reason=f'not applicable: {reason}'))


def failure_message(report) -> str:
    """A failure's message, object addresses removed, its first line then its other lines sorted
    (the stub's assertion messages list the differences of a candidate in no fixed order); for a
    failed run (`dd_run_check` puts the run's traceback, with file paths of one check or the
    other, before the error) the lines after the traceback."""
    crash = getattr(report.longrepr, 'reprcrash', None)
    message = crash.message.strip() if crash is not None else ''
    message = re.sub(r'0x[0-9a-f]+', '0x', message)
    if 'Traceback (most recent call last)' in message:
        lines = message.splitlines()
        after = [i for i, line in enumerate(lines) if not line.startswith((' ', 'Traceback'))]
        message = '\n'.join(lines[after[-1] :]) if after else ''
    first, *rest = message.splitlines() or ['']
    return '\n'.join([first, *sorted(rest)])


def pytest_runtest_logreport(report):
    """Each test's outcome (its call's, or that of a setup or teardown that did not pass) and, for
    a failure, its message."""
    if report.when == 'call' or report.outcome != 'passed':
        key = report.nodeid.split('test_v2/', 1)[-1]
        if _OUTCOMES.get(key, ('passed',))[0] == 'passed':
            _OUTCOMES[key] = (report.outcome, failure_message(report) if report.failed else '')


def pytest_sessionfinish(session):
    path = session.config.getoption('--v2-results')
    if path:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(_OUTCOMES, f, indent=1, sort_keys=True)


def compare(stock: dict[str, list[str]], native: dict[str, list[str]]) -> tuple[dict[str, int], list[str]]:
    """Counts (passed, not applicable, failing on the stock class too, with the same message) and
    the tests that fail here otherwise."""
    counts = {'passed': 0, 'not applicable': 0, 'failing on stock too': 0}
    regressions = [f'{test}: not run against this check' for test in sorted(set(stock) - set(native))]
    regressions += [f'{test}: not run against the stock check' for test in sorted(set(native) - set(stock))]
    if not native:
        regressions.append('no test ran')
    for test, (outcome, message) in sorted(native.items()):
        if outcome == 'passed':
            counts['passed'] += 1
        elif outcome == 'skipped':
            counts['not applicable'] += 1
        elif stock.get(test) == [outcome, message]:
            counts['failing on stock too'] += 1
        else:
            regressions.append(f'{test}: {message}')
    return counts, regressions


def main(argv: list[str]) -> int:
    results = []
    for path in argv:
        try:
            with open(path, encoding='utf-8') as f:
                results.append(json.load(f))
        except (OSError, ValueError) as error:
            print(f'datadog-checks-base OpenMetrics V2 tests: no results in {path} ({error}); see its .log')
            return 1
    stock, native = results
    counts, regressions = compare(stock, native)
    print('datadog-checks-base OpenMetrics V2 tests: ' + ', '.join(f'{n} {what}' for what, n in counts.items()))
    for test in regressions:
        print(f'  fails here only: {test}')
    return 1 if regressions else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
