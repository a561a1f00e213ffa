"""The Agent's loader: `datadog_checks.nvidia_nim` is imported and the first attribute in
`dir(module)` that is a strict, leaf subclass of AgentCheck is built with keyword arguments."""

import importlib
import importlib.util

from common import PROJECT_ROOT

from datadog_checks.base import AgentCheck

# the loader's rule, as scripts/prove-wheels applies it to installed wheels
_spec = importlib.util.spec_from_file_location('prove_run', PROJECT_ROOT / 'scripts' / 'prove_run.py')
prove_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prove_run)
find_check_class = prove_run.agent_check_class


def test_agent_loader_picks_our_check(aggregator, payload_server):
    module = importlib.import_module('datadog_checks.nvidia_nim')
    cls = find_check_class(module)
    assert cls is not None and cls.__name__ == 'NvidiaNIMCheck'
    check = cls(name='nvidia_nim', init_config={}, instances=({'openmetrics_endpoint': payload_server.base_url},))
    check.check_id = 'nvidia_nim:test'
    assert check.run() == ''
    aggregator.assert_service_check('nvidia_nim.openmetrics.health', AgentCheck.OK)
    assert module.__version__
