"""Deliberate differences in how lines are read, each shown next to the stock behaviour."""

from common import OM_CONTENT_TYPE, PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck, run_error

from datadog_checks.nvidia_nim import NvidiaNIMCheck

MAP = {'metrics': [{'g': 'g'}]}


def run_both(aggregator, body: bytes, content_type: str):
    """(stock error, stock g tags, our error, our g tags)."""
    out = []
    with PayloadServer(body, content_type) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', **MAP}
        for cls in (StockNvidiaNIMCheck, NvidiaNIMCheck):
            aggregator.reset()
            error = run_error(cls('nvidia_nim', {}, [dict(instance)]).run())
            tags = [[t for t in m.tags if not t.startswith('endpoint:')] for m in aggregator.metrics('nvidia_nim.g')]
            out += [error, tags]
    return out


def test_unicode_line_separators_stay_inside_a_label_value(aggregator):
    # Python's str.splitlines() also breaks at \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029; the
    # stock check cuts the sample line there and fails the scrape. Only \n, \r\n and \r end a line.
    for separator in ('\u2028', '\u2029', '\x85', '\x0b', '\x0c', '\x1c'):
        body = f'# TYPE g gauge\ng{{a="x{separator}y"}} 1\n'.encode()
        stock_error, stock_tags, our_error, our_tags = run_both(aggregator, body, PROM_CONTENT_TYPE)
        assert stock_error == 'substring not found', repr(separator)
        assert stock_tags == []
        assert our_error is None
        assert our_tags == [[f'a:x{separator}y']]


def test_carriage_returns_still_end_lines(aggregator):
    body = b'# TYPE g gauge\r\ng{a="1"} 1\r\ng{a="2"} 2\rg{a="3"} 3\n'
    stock_error, stock_tags, our_error, our_tags = run_both(aggregator, body, PROM_CONTENT_TYPE)
    assert stock_error is our_error is None
    assert stock_tags == our_tags == [['a:1'], ['a:2'], ['a:3']]


def test_openmetrics_blank_line_is_a_clear_error(aggregator):
    # Both reject the body (OpenMetrics has no blank lines) after submitting the families before
    # it; the stock check's error is a bare IndexError.
    body = b'# TYPE g gauge\ng 1\n# TYPE h gauge\nh 2\n\n# EOF\n'
    stock_error, stock_tags, our_error, our_tags = run_both(aggregator, body, OM_CONTENT_TYPE)
    assert stock_error == 'string index out of range'
    assert our_error == 'Invalid OpenMetrics exposition: blank line at line 5'
    assert stock_tags == our_tags == [[]]
