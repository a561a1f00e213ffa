"""Network faults against real loopback servers: what each run returns, the health check, what was
submitted, and the `flush_first_value` state the next good scrape uses, compared with the stock
check run through the same sequence."""

import logging

import pytest
from common import (
    RawServer,
    StockNvidiaNIMCheck,
    assert_same_submissions,
    fixture_bytes,
    health_checks,
    http_response,
    run_error,
    snapshot,
    submitted_count,
    without_addresses,
)

from datadog_checks.base import AgentCheck
from datadog_checks.nvidia_nim import NvidiaNIMCheck

GOOD = fixture_bytes('nim_metrics.txt')
CONNECT_TIMEOUT = 0.3
READ_TIMEOUT = 0.6


def respond(endpoint, conn, path):
    mode = endpoint.mode
    if mode == 'good':
        conn.sendall(http_response(GOOD))
    elif mode.startswith('status_'):
        status = {'404': '404 Not Found', '401': '401 Unauthorized', '503': '503 Service Unavailable'}
        conn.sendall(http_response(b'no metrics here', status[mode[7:]], 'text/plain'))
    elif mode == 'silent':  # accepts and reads the request, never answers
        endpoint.wait(READ_TIMEOUT * 5)
    elif mode == 'garbage_status':
        conn.sendall(b'SSH-2.0-OpenSSH_9.6\r\nnot an http server\r\n\r\n')
    elif mode == 'reset':  # closes right after the request, without a status line
        pass
    elif mode == 'truncated':  # Content-Length of the whole body, then two thirds of it
        whole = http_response(GOOD)
        conn.sendall(whole[: len(whole) - len(GOOD) // 3])
    elif mode == 'truncated_chunked':
        head = http_response(b'', Content_Length=None, Transfer_Encoding='chunked')
        conn.sendall(head + b'%x\r\n' % 4000 + GOOD[:4000] + b'\r\n' + b'%x\r\n' % 4000 + GOOD[4000:6000])
    elif mode == 'stall':  # half the body, then silence longer than the read timeout
        whole = http_response(GOOD)
        conn.sendall(whole[: len(whole) - len(GOOD) // 2])
        endpoint.wait(READ_TIMEOUT * 4)
    elif mode == 'bad_gzip':
        conn.sendall(http_response(b'\x1f\x8b\x08\x00' + GOOD[:200], Content_Encoding='gzip'))
    elif mode == 'drip':  # the body in 12 pieces, each within the read timeout, the whole past it
        whole = http_response(GOOD)
        step = len(whole) // 12 + 1
        for i in range(0, len(whole), step):
            conn.sendall(whole[i : i + step])
            endpoint.wait(READ_TIMEOUT / 6)
    else:
        raise AssertionError(mode)


class Endpoint(RawServer):
    """Serves the NIM fixture, or the fault named by `mode` (`refused` and `connect_timeout` act on
    the listener itself)."""

    def __init__(self):
        super().__init__(lambda conn, path: respond(self, conn, path))
        self.mode = 'good'

    def fault(self, mode):
        if mode == 'refused':
            self.refuse()
        elif mode == 'connect_timeout':
            self.stall_connects()
        self.mode = mode

    def heal(self):
        if self.mode in ('refused', 'connect_timeout'):
            self.reopen()
        self.mode = 'good'


# Failures raised by requests as a ConnectionError: `ignore_connection_errors` swallows them.
CONNECTION_ERRORS = {'refused', 'connect_timeout', 'garbage_status', 'reset', 'stall'}
# The status line and headers arrived fine, the body did not: the stock check reports the endpoint
# healthy (and submits the families read before the failure); this check reports it CRITICAL.
BODY_FAULTS = {'truncated', 'truncated_chunked', 'stall', 'bad_gzip'}
FAULTS = [
    'refused',
    'connect_timeout',
    'silent',
    'status_401',
    'status_404',
    'status_503',
    'garbage_status',
    'reset',
    'truncated',
    'truncated_chunked',
    'stall',
    'bad_gzip',
]
EXPECTED_MESSAGE = {
    'refused': 'Connection refused',
    'connect_timeout': f'timed out. (connect timeout={CONNECT_TIMEOUT})',
    'silent': f'Read timed out. (read timeout={READ_TIMEOUT})',
    'status_401': '401 Client Error: Unauthorized for url: ',
    'status_404': '404 Client Error: Not Found for url: ',
    'status_503': '503 Server Error: Service Unavailable for url: ',
    'garbage_status': 'Connection aborted.',
    'reset': 'Connection aborted.',
    'truncated': 'IncompleteRead(',
    'truncated_chunked': 'Connection broken',
    'stall': 'Read timed out.',
    'bad_gzip': 'Received response with content-encoding: gzip, but failed to decode it.',
}


def three_runs(cls, endpoint, fault, ignore, aggregator, datadog_agent):
    """good run, faulty run, good run: (error, health, submissions count, snapshot) of runs 2 and 3."""
    instance = {
        'openmetrics_endpoint': endpoint.base_url + '/metrics',
        'connect_timeout': CONNECT_TIMEOUT,
        'read_timeout': READ_TIMEOUT,
        'ignore_connection_errors': ignore,
    }
    check = cls('nvidia_nim', {}, [instance])
    aggregator.reset()
    # metadata is compared as the Agent holds it after the three runs (the last value set per
    # name): the stock check sets the version every run, this check when it may have changed
    datadog_agent.reset()
    assert check.run() == ''
    aggregator.reset()
    endpoint.fault(fault)
    try:
        error = run_error(check.run())
        faulty = (error, health_checks(aggregator), submitted_count(aggregator))
    finally:
        endpoint.heal()
    aggregator.reset()
    error = run_error(check.run())
    good = snapshot(aggregator, datadog_agent)
    good['warnings'] = check.warnings
    return faulty, error, good


@pytest.mark.parametrize('ignore', [False, True], ids=['raise', 'ignore_connection_errors'])
@pytest.mark.parametrize('fault', FAULTS)
def test_fault_then_recovery(aggregator, datadog_agent, caplog, fault, ignore):
    caplog.set_level(logging.WARNING)
    with Endpoint() as endpoint:
        stock_faulty, stock_error, stock_good = three_runs(
            StockNvidiaNIMCheck, endpoint, fault, ignore, aggregator, datadog_agent
        )
        caplog.clear()
        (error, health, submitted), our_error, our_good = three_runs(
            NvidiaNIMCheck, endpoint, fault, ignore, aggregator, datadog_agent
        )
    url = endpoint.base_url + '/metrics'
    swallowed = ignore and fault in CONNECTION_ERRORS

    # the faulty run: CRITICAL with the failure's text, nothing submitted
    assert submitted == 0
    assert len(health) == 1
    status, message = health[0]
    assert status == AgentCheck.CRITICAL
    assert EXPECTED_MESSAGE[fault] in message
    if swallowed:
        assert error is None
        assert f'OpenMetrics endpoint {url} is not accessible' in caplog.text
        # the stock check also swallows it, then fails on its own version request when the
        # whole server is down (see test_deliberate_differences.py)
        assert stock_faulty[0] is None or '/v1/version' in stock_faulty[0]
    else:
        assert error == f'There was an error scraping endpoint {url}: {message}'
        assert without_addresses(error) == without_addresses(stock_faulty[0])
    if fault in BODY_FAULTS:
        assert stock_faulty[1] == [(AgentCheck.OK, '')]
    else:
        assert without_addresses(str(stock_faulty[1])) == without_addresses(str(health))
        assert stock_faulty[2] == 0

    # the next good run: same submissions as the stock check, with the flush_first_value the
    # outcome of the faulty run left behind (True after a swallowed error, False after an error)
    assert our_error is None and stock_error is None
    assert_same_submissions(stock_good, our_good)
    counts = our_good['metrics']['nvidia_nim.prompt_tokens.count']
    assert counts and all(m.flush_first_value is swallowed for m in counts)
    buckets = our_good['metrics']['nvidia_nim.e2e_request_latency.seconds.bucket']
    assert buckets and all(m.flush_first_value is swallowed for m in buckets)


def test_slow_drip_within_the_read_timeout(aggregator, datadog_agent):
    # The read timeout bounds each read, not the whole body: a body dripping in for twice the
    # timeout is read whole, as by the stock check.
    results = []
    with Endpoint() as endpoint:
        endpoint.mode = 'drip'
        instance = {'openmetrics_endpoint': endpoint.base_url + '/metrics', 'read_timeout': READ_TIMEOUT}
        for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
            aggregator.reset()
            datadog_agent.reset()
            check = cls('nvidia_nim', {}, [instance])
            assert check.run() == ''
            result = snapshot(aggregator, datadog_agent)
            result['warnings'] = check.warnings
            results.append(result)
    assert len(results[1]['metrics']) == 34
    assert results[1]['service_checks']['nvidia_nim.openmetrics.health'][0].status == AgentCheck.OK
    assert_same_submissions(*results)


@pytest.mark.parametrize('ignore', [False, True])
def test_dns_failure(aggregator, ignore):
    instance = {'openmetrics_endpoint': 'http://nim-metrics.invalid/metrics', 'ignore_connection_errors': ignore}
    stock = StockNvidiaNIMCheck('nvidia_nim', {}, [instance])
    stock_error = run_error(stock.run())
    stock_health = health_checks(aggregator)
    aggregator.reset()
    ours = NvidiaNIMCheck('nvidia_nim', {}, [instance])
    our_error = run_error(ours.run())
    ((status, message),) = health_checks(aggregator)
    assert status == AgentCheck.CRITICAL
    assert "Failed to resolve 'nim-metrics.invalid'" in message
    assert without_addresses(str(stock_health)) == without_addresses(str([(status, message)]))
    assert submitted_count(aggregator) == 0
    if ignore:
        # swallowed; the stock check then fails on its version request to the same host
        assert our_error is None
        assert "Failed to resolve 'nim-metrics.invalid'" in stock_error and '/v1/version' in stock_error
    else:
        assert our_error == f'There was an error scraping endpoint http://nim-metrics.invalid/metrics: {message}'
        assert without_addresses(our_error) == without_addresses(stock_error)
    # the state the next scrape starts from: True after a swallowed error, None (no success yet) otherwise
    (scraper,) = stock.scrapers.values()
    assert ours._flush_first_value is scraper.flush_first_value is (True if ignore else None)


def test_unsupported_scheme(aggregator):
    instance = {'openmetrics_endpoint': 'ftp://127.0.0.1/metrics'}
    stock_error = run_error(StockNvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
    stock_health = health_checks(aggregator)
    aggregator.reset()
    our_error = run_error(NvidiaNIMCheck('nvidia_nim', {}, [instance]).run())
    assert (
        our_error
        == stock_error
        == (
            'There was an error scraping endpoint ftp://127.0.0.1/metrics: No connection adapters were found for '
            "'ftp://127.0.0.1/metrics'"
        )
    )
    assert health_checks(aggregator) == stock_health
    assert stock_health[0][0] == AgentCheck.CRITICAL
