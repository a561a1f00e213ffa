"""Hostile bodies: each gets a clear error or is parsed as its format says, with the stock check's
outcome (run error, health check, submissions) where that is the contract; the huge ones run in a
subprocess with a timeout, where their time and peak memory are measured."""

import gzip
import random

import pytest
from common import (
    OM_CONTENT_TYPE,
    PROM_CONTENT_TYPE,
    StockNvidiaNIMCheck,
    assert_same_submissions,
    fixture_bytes,
    run_error,
    run_python,
    snapshot,
)

from datadog_checks.base import AgentCheck
from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.check import MAX_BODY_BYTES

GAUGE = b'# TYPE num_requests_running gauge\nnum_requests_running{model_name="m"} 3\n'
WAITING = b'# TYPE num_requests_waiting gauge\n'
HIST = b'# TYPE e2e_request_latency_seconds histogram\n'
EOF = b'# EOF\n'


# Characters where Python's str.splitlines() ends a line and this check does not (a deliberate
# difference, pinned in test_deliberate_differences_in_lines.py): kept out of the bodies compared here.
SPLITLINES_ONLY = (b'\x0b', b'\x0c', b'\x1c', b'\x1d', b'\x1e', b'\xc2\x85', b'\xe2\x80\xa8', b'\xe2\x80\xa9')


def random_bytes(seed, n=4000):
    rnd = random.Random(seed)
    body = bytes(rnd.getrandbits(8) for _ in range(n))
    for separator in SPLITLINES_ONLY:
        body = body.replace(separator, b' ')
    return body


# the run fails, with whatever message the (random) content leads to
ANY_ERROR = object()

# name: (body, content type, the run error both checks give (None: success))
CASES = {
    'random_bytes': (random_bytes(1), PROM_CONTENT_TYPE, ANY_ERROR),
    'random_bytes_openmetrics': (random_bytes(2), OM_CONTENT_TYPE, ANY_ERROR),
    'random_printable': (
        bytes(random.Random(3).choice(b'{}="# \n\\,abc_1.eE+-') for _ in range(4000)),
        PROM_CONTENT_TYPE,
        'substring not found',
    ),
    'invalid_utf8_label': (
        GAUGE + WAITING + b'num_requests_waiting{model_name="\xff\xfe\xc3("} 2\n',
        PROM_CONTENT_TYPE,
        None,
    ),
    'invalid_utf8_name': (GAUGE + b'num_requests_\xffwaiting 2\n', PROM_CONTENT_TYPE, None),
    'nul_bytes': (
        GAUGE + WAITING + b'num_requests_waiting{a="\x00"} 1\n\x00\x00\n',
        PROM_CONTENT_TYPE,
        'substring not found',
    ),
    'nul_in_value': (
        GAUGE + WAITING + b'num_requests_waiting 5\x00\n',
        PROM_CONTENT_TYPE,
        "could not convert string to float: '5\\x00'",
    ),
    'unterminated_quote': (GAUGE + WAITING + b'num_requests_waiting{a="x} 1\n', PROM_CONTENT_TYPE, None),
    'unterminated_brace': (GAUGE + WAITING + b'num_requests_waiting{a="x" 1\n', PROM_CONTENT_TYPE, None),
    'close_brace_first': (GAUGE + WAITING + b'num_requests_waiting}{ 1\n', PROM_CONTENT_TYPE, None),
    'million_open_braces': (GAUGE + b'{' * 1_000_000 + b'\n', PROM_CONTENT_TYPE, 'substring not found'),
    'million_open_braces_openmetrics': (GAUGE + b'{' * 1_000_000 + b'\n' + EOF, OM_CONTENT_TYPE, 'substring not found'),
    'labels_20000': (
        GAUGE + WAITING + b'num_requests_waiting{' + b','.join(b'l%d="v%d"' % (i, i) for i in range(20000)) + b'} 1\n',
        PROM_CONTENT_TYPE,
        None,
    ),
    'huge_exponents': (
        GAUGE + WAITING + b'num_requests_waiting 1e400\nnum_requests_waiting{a="1"} -1e400\n'
        b'num_requests_waiting{a="2"} 1e-400\nnum_requests_waiting{a="3"} 1.7976931348623157e308\n',
        PROM_CONTENT_TYPE,
        None,
    ),
    'huge_integer': (
        GAUGE + WAITING + b'num_requests_waiting ' + b'9' * 400 + b'\n',
        PROM_CONTENT_TYPE,
        'int too large to convert to float',
    ),
    'big_integer': (GAUGE + WAITING + b'num_requests_waiting -' + b'9' * 300 + b'\n', PROM_CONTENT_TYPE, None),
    'long_zero_padded_integer': (
        GAUGE + WAITING + b'num_requests_waiting ' + b'0' * 5000 + b'7\n',
        PROM_CONTENT_TYPE,
        None,
    ),
    'bad_type_word': (
        GAUGE + b'# TYPE num_requests_waiting weird\nnum_requests_waiting 1\n',
        PROM_CONTENT_TYPE,
        'Invalid metric type: weird',
    ),
    'type_without_word': (GAUGE + b'# TYPE num_requests_waiting\nnum_requests_waiting 1\n', PROM_CONTENT_TYPE, ''),
    'type_untyped_openmetrics': (
        GAUGE + b'# TYPE num_requests_waiting untyped\n' + EOF,
        OM_CONTENT_TYPE,
        'Invalid TYPE for metric: # TYPE num_requests_waiting untyped',
    ),
    'bucket_without_le': (
        GAUGE + HIST + b'e2e_request_latency_seconds_bucket{a="1"} 1\n',
        PROM_CONTENT_TYPE,
        "'upper_bound'",
    ),
    'bucket_bad_le': (
        GAUGE + HIST + b'e2e_request_latency_seconds_bucket{le="abc"} 1\n',
        PROM_CONTENT_TYPE,
        "could not convert string to float: 'abc'",
    ),
    'bucket_empty_le': (
        GAUGE + HIST + b'e2e_request_latency_seconds_bucket{le=""} 1\n',
        PROM_CONTENT_TYPE,
        "could not convert string to float: ''",
    ),
    'bucket_hex_le': (
        GAUGE + HIST + b'e2e_request_latency_seconds_bucket{le="0x10"} 1\n',
        PROM_CONTENT_TYPE,
        "could not convert string to float: '0x10'",
    ),
    'bucket_odd_le': (
        GAUGE
        + HIST
        + b'e2e_request_latency_seconds_bucket{le="1_0"} 1\ne2e_request_latency_seconds_bucket{le=" 2 "} 2\n'
        b'e2e_request_latency_seconds_bucket{le="-0"} 0\ne2e_request_latency_seconds_bucket{le="1e-5"} 0\n'
        b'e2e_request_latency_seconds_bucket{le="+Inf"} 3\ne2e_request_latency_seconds_count 3\n'
        b'e2e_request_latency_seconds_sum 3\n',
        PROM_CONTENT_TYPE,
        None,
    ),
    'bucket_without_le_openmetrics': (
        HIST + b'e2e_request_latency_seconds_bucket 1\n' + EOF,
        OM_CONTENT_TYPE,
        'Invalid le label: e2e_request_latency_seconds_bucket 1',
    ),
    'bucket_bad_le_openmetrics': (
        HIST + b'e2e_request_latency_seconds_bucket{le="abc"} 1\n' + EOF,
        OM_CONTENT_TYPE,
        "could not convert string to float: 'abc'",
    ),
    'openmetrics_without_eof': (GAUGE + WAITING + b'num_requests_waiting 5\n', OM_CONTENT_TYPE, 'Missing # EOF at end'),
    'openmetrics_line_after_eof': (
        GAUGE + EOF + b'num_requests_waiting 5\n',
        OM_CONTENT_TYPE,
        'Received line after # EOF: num_requests_waiting 5',
    ),
    'crlf': ((GAUGE + WAITING + b'num_requests_waiting 5\n').replace(b'\n', b'\r\n'), PROM_CONTENT_TYPE, None),
    'crlf_openmetrics': ((GAUGE + EOF).replace(b'\n', b'\r\n'), OM_CONTENT_TYPE, None),
    'lone_cr': ((GAUGE + WAITING + b'num_requests_waiting 5\n').replace(b'\n', b'\r'), PROM_CONTENT_TYPE, None),
    'only_line_breaks': (b'\n' * 100_000, PROM_CONTENT_TYPE, None),
    'only_spaces': (b' ' * 100_000, PROM_CONTENT_TYPE, None),
    'bad_timestamp': (
        GAUGE + WAITING + b'num_requests_waiting 5 abc\n',
        PROM_CONTENT_TYPE,
        "could not convert string to float: 'abc'",
    ),
    'underscore_value': (
        GAUGE + WAITING + b'num_requests_waiting 1_000\n',
        PROM_CONTENT_TYPE,
        "Invalid value: '1_000'",
    ),
}


def run_both(server, body, content_type, aggregator, datadog_agent, **options):
    server.body = body
    server.content_type = content_type
    instance = {'openmetrics_endpoint': server.base_url + '/metrics', **options}
    results = []
    for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
        aggregator.reset()
        datadog_agent.reset()
        check = cls('nvidia_nim', {}, [instance])
        error = run_error(check.run())
        result = snapshot(aggregator, datadog_agent)
        result['warnings'] = check.warnings
        results.append((error, result))
    return results


@pytest.mark.parametrize('case', CASES)
def test_hostile_body_as_the_stock_check(aggregator, datadog_agent, payload_server, case):
    body, content_type, expected_error = CASES[case]
    (stock_error, stock), (our_error, ours) = run_both(payload_server, body, content_type, aggregator, datadog_agent)
    assert stock_error == our_error
    if expected_error is ANY_ERROR:
        assert our_error is not None
    else:
        assert our_error == expected_error
    assert_same_submissions(stock, ours)
    # the body arrived whole, so the endpoint is healthy whatever its content
    assert [s.status for s in ours['service_checks']['nvidia_nim.openmetrics.health']] == [AgentCheck.OK]


def test_mutated_nim_payloads_as_the_stock_check(aggregator, datadog_agent, payload_server):
    # 60 corruptions of the real NIM payload (bytes flipped, deleted, duplicated, lines swapped):
    # every one ends as the stock check ends, to the record.
    rnd = random.Random(20261129)
    base = fixture_bytes('nim_metrics.txt') + b'\n'
    alphabet = b'{}="#\n\\, \t\r_e+-.0123456789abcxyz\xff\x00'
    outcomes = set()
    for i in range(60):
        body = bytearray(base)
        for _ in range(rnd.randint(1, 6)):
            pos = rnd.randrange(len(body))
            action = rnd.randrange(4)
            if action == 0:
                body[pos] = rnd.choice(alphabet)
            elif action == 1:
                del body[pos : pos + rnd.randint(1, 40)]
            elif action == 2:
                body[pos:pos] = body[pos : pos + rnd.randint(1, 80)]
            else:
                lines = bytes(body).split(b'\n')
                a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
                lines[a], lines[b] = lines[b], lines[a]
                body = bytearray(b'\n'.join(lines))
        content_type = OM_CONTENT_TYPE if i % 3 == 0 else PROM_CONTENT_TYPE
        (stock_error, stock), (our_error, ours) = run_both(
            payload_server, bytes(body), content_type, aggregator, datadog_agent
        )
        assert our_error == stock_error, (i, bytes(body))
        assert_same_submissions(stock, ours)
        outcomes.add(our_error)
    assert None in outcomes and len(outcomes) > 5  # both clean and failing runs were exercised


# an integer past Python's int() digit limit (4300) is read by float(): inf, dropped
def test_integer_past_the_python_digit_limit(aggregator, datadog_agent, payload_server):
    body = GAUGE + WAITING + b'num_requests_waiting ' + b'9' * 5000 + b'\nnum_requests_waiting{a="1"} 2\n'
    (stock_error, stock), (our_error, ours) = run_both(
        payload_server, body, PROM_CONTENT_TYPE, aggregator, datadog_agent
    )
    assert stock_error is None
    assert our_error == stock_error
    assert_same_submissions(stock, ours)


# --- huge payloads, in a subprocess ----------------------------------------------------------------

HUGE_IMPORTS = """
import json, time
from common import PayloadServer, StockNvidiaNIMCheck, health_checks, run_error, submitted_count
from datadog_checks.base.stubs import aggregator
from datadog_checks.nvidia_nim import NvidiaNIMCheck
"""
HUGE_RUN = """
def status_kib(field):
    with open('/proc/self/status') as f:
        return int(next(line for line in f if line.startswith(field)).split()[1])

def reset_peak():
    # VmHWM back to the current RSS (Linux), so that the peak measured is the run's own
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')

body, headers = make_body()
with PayloadServer(body, CONTENT_TYPE) as server:
    server.extra_headers.update(headers)
    instance = {'openmetrics_endpoint': server.base_url + '/metrics', **OPTIONS}
    out = {}
    for name, cls in CHECKS:
        aggregator.reset()
        reset_peak()
        before = status_kib('VmRSS:')
        started = time.perf_counter()
        error = run_error(cls('nvidia_nim', {}, [instance]).run())
        out[name] = {
            'error': error,
            'seconds': time.perf_counter() - started,
            'peak_growth': (status_kib('VmHWM:') - before) * 1024,
            'health': health_checks(aggregator),
            'submitted': submitted_count(aggregator),
            'names': sorted(aggregator.metric_names),
        }
print(json.dumps({'payload': len(body), **out}))
"""


def run_huge(make_body, content_type=PROM_CONTENT_TYPE, options=None, stock=False, timeout=120):
    checks = "[('stock', StockNvidiaNIMCheck), ('ours', NvidiaNIMCheck)]" if stock else "[('ours', NvidiaNIMCheck)]"
    prelude = f'{make_body}\nCONTENT_TYPE = {content_type!r}\nOPTIONS = {options or {}!r}\nCHECKS = {checks}\n'
    return run_python(HUGE_IMPORTS + prelude + HUGE_RUN, timeout=timeout)


def test_line_longer_than_16_mib():
    # A 20 MB line after a good family: the stock check's line limit (16 MiB, on real HTTP
    # responses) fails the run after the families before it, health OK.
    make_body = (
        'def make_body():\n'
        f'    return {GAUGE!r} + b"# TYPE num_requests_waiting gauge\\nnum_requests_waiting{{a=\\"" '
        '+ b"x" * 20_000_000 + b"\\"} 1\\n", {}'
    )
    result = run_huge(make_body, stock=True)
    stock, ours = result['stock'], result['ours']
    assert stock['error'] == 'Response contains a line longer than 16777216 bytes'
    assert stock['health'] == [[AgentCheck.OK, '']]
    assert stock['names'] == ['nvidia_nim.num_requests.running']
    assert (ours['error'], ours['health'], ours['names']) == (stock['error'], stock['health'], stock['names'])
    assert ours['peak_growth'] < 4 * result['payload']


def series_body(count, name=b'num_requests_running'):
    return (
        'def make_body():\n'
        f'    head = b"# TYPE {name.decode()} gauge\\n"\n'
        f'    lines = b"".join(b"{name.decode()}{{model_name=\\"m%d\\",gpu=\\"%d\\"}} %d\\n" % (i, i % 8, i) '
        f'for i in range({count}))\n'
        '    return head + lines + b"# TYPE num_requests_waiting gauge\\nnum_requests_waiting 1\\n", {}'
    )


def test_many_series_as_the_stock_check(aggregator, datadog_agent, payload_server):
    body = b'# TYPE num_requests_running gauge\n' + b''.join(
        b'num_requests_running{model_name="m%d",gpu="%d"} %d\n' % (i, i % 8, i) for i in range(20_000)
    )
    (stock_error, stock), (our_error, ours) = run_both(
        payload_server, body, PROM_CONTENT_TYPE, aggregator, datadog_agent
    )
    assert stock_error is our_error is None
    assert len(ours['metrics']['nvidia_nim.num_requests.running']) == 20_000
    assert_same_submissions(stock, ours)


def test_a_million_series():
    # One family of a million 58-byte series, the worst case for memory per byte: parsed,
    # transformed and submitted within seconds, with the check's own peak memory within a small
    # multiple of the payload (submissions are filtered by metric_patterns so that the stub
    # aggregator's storage does not count; the stock check, which holds the family whole, peaks
    # at about 10x the payload on this body, in 15 s).
    result = run_huge(series_body(1_000_000), options={'metric_patterns': {'exclude': ['running']}})
    ours = result['ours']
    assert ours['error'] is None
    assert ours['health'] == [[AgentCheck.OK, '']]
    assert ours['names'] == ['nvidia_nim.num_requests.waiting']
    assert ours['seconds'] < 30
    assert ours['peak_growth'] < 12 * result['payload'], result


def test_many_series_submitted():
    # every series reaches the aggregator (the stub's bookkeeping dominates the time here)
    result = run_huge(series_body(200_000))
    ours = result['ours']
    assert ours['error'] is None
    assert ours['submitted'] == 200_001
    assert ours['seconds'] < 30


def test_gzip_bomb():
    # 4 GiB of metric lines in a few MB of gzip (concatenated gzip members): reading stops at
    # MAX_BODY_BYTES after decompression, with a clear error and CRITICAL, nothing submitted.
    make_body = (
        'import gzip\n'
        'def make_body():\n'
        '    member = gzip.compress(b"num_requests_running{model_name=\\"m\\"} 1\\n" * 27_000, 9)\n'
        '    return member * 4096, {"Content-Encoding": "gzip"}\n'
    )
    result = run_huge(make_body, timeout=180)
    ours = result['ours']
    message = f'Response body is larger than {MAX_BODY_BYTES} bytes'
    assert result['payload'] < 16 << 20
    assert ours['error'] == message
    assert ours['health'] == [[AgentCheck.CRITICAL, message]]
    assert ours['submitted'] == 0
    assert ours['peak_growth'] < 2.5 * MAX_BODY_BYTES
    assert ours['seconds'] < 60


def test_gzip_body_within_the_limit_as_the_stock_check(aggregator, datadog_agent, payload_server):
    payload_server.extra_headers['Content-Encoding'] = 'gzip'
    payload_server.version_body = gzip.compress(payload_server.version_body)
    body = gzip.compress(fixture_bytes('nim_metrics.txt'))
    (stock_error, stock), (our_error, ours) = run_both(
        payload_server, body, PROM_CONTENT_TYPE, aggregator, datadog_agent
    )
    assert stock_error is our_error is None
    assert len(ours['metrics']) == 34
    assert_same_submissions(stock, ours)


# Numbers read and written as Python does: Unicode decimal digits, no stripping of \x1c-\x1f, the
# even one of two equally close shortest bound strings, and repr() in error messages.
NUMBER_BODIES = {
    'unicode_digits_value': WAITING + 'num_requests_waiting ١٢\n'.encode(),
    'unicode_digits_le': HIST + 'e2e_request_latency_seconds_bucket{le="１"} 1\n'.encode(),
    'unit_separator_le': HIST + b'e2e_request_latency_seconds_bucket{le="\x1f1"} 1\n',
    'repr_tie_le': HIST + b'e2e_request_latency_seconds_bucket{le="1203524251652176.2"} 1\n',
    # the error message escapes an unprintable character as repr() does: '5\u0378'
    'unprintable_in_error': WAITING + 'num_requests_waiting 5\u0378\n'.encode(),
}


@pytest.mark.parametrize('case', NUMBER_BODIES)
def test_numbers_as_the_stock_check(aggregator, datadog_agent, payload_server, case):
    (stock_error, stock), (our_error, ours) = run_both(
        payload_server, GAUGE + NUMBER_BODIES[case], PROM_CONTENT_TYPE, aggregator, datadog_agent
    )
    assert our_error == stock_error
    assert_same_submissions(stock, ours)


@pytest.mark.parametrize('case', ['random_bytes', 'bucket_bad_le', 'openmetrics_without_eof', 'huge_integer'])
def test_next_scrape_after_a_hostile_body(aggregator, datadog_agent, payload_server, case):
    # good, hostile, good: the third scrape flushes first values as the stock check's does (not
    # after a failed run)
    body, content_type, _ = CASES[case]
    good = fixture_bytes('nim_metrics.txt')
    instance = {'openmetrics_endpoint': payload_server.base_url + '/metrics'}
    results = []
    for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
        check = cls('nvidia_nim', {}, [instance])
        outcome = []
        for payload, ctype in ((good, PROM_CONTENT_TYPE), (body, content_type), (good, PROM_CONTENT_TYPE)):
            payload_server.body, payload_server.content_type = payload, ctype
            aggregator.reset()
            datadog_agent.reset()
            outcome.append(run_error(check.run()))
        result = snapshot(aggregator, datadog_agent)
        result['warnings'] = check.warnings
        results.append((outcome, result))
    (stock_outcome, stock), (our_outcome, ours) = results
    assert our_outcome == stock_outcome
    assert our_outcome[0] is None and our_outcome[1] is not None and our_outcome[2] is None
    assert_same_submissions(stock, ours)
    counts = ours['metrics']['nvidia_nim.prompt_tokens.count']
    assert counts and not any(m.flush_first_value for m in counts)
