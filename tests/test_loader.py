"""The Agent's loader: `datadog_checks.nvidia_nim` is imported and the first attribute in
`dir(module)` that is a strict, leaf subclass of AgentCheck is built with keyword arguments."""

import importlib

from datadog_checks.base import AgentCheck


def find_check_class(module):
    for name in dir(module):
        attr = getattr(module, name)
        if isinstance(attr, type) and issubclass(attr, AgentCheck) and attr is not AgentCheck:
            if not attr.__subclasses__():
                return attr
    return None


def test_agent_loader_picks_our_check(aggregator, payload_server):
    module = importlib.import_module('datadog_checks.nvidia_nim')
    cls = find_check_class(module)
    assert cls is not None and cls.__name__ == 'NvidiaNIMCheck'
    check = cls(name='nvidia_nim', init_config={}, instances=({'openmetrics_endpoint': payload_server.base_url},))
    check.check_id = 'nvidia_nim:test'
    assert check.run() == ''
    aggregator.assert_service_check('nvidia_nim.openmetrics.health', AgentCheck.OK)
    assert module.__version__
