"""An aggregator that takes its arguments as the Agent's real `aggregator` builtin does, then
records what the Agent would receive in datadog-checks-base's stub aggregator.

The Agent's builtin (rtloader, `aggregator.c`) reads its arguments with `PyArg_ParseTuple`:

| function | format | arguments |
| --- | --- | --- |
| `submit_metric` | `OsisdOs\\|b` | check, check_id, type, name, value, tags, hostname[, flush] |
| `submit_service_check` | `OssiOss` | check, check_id, name, status, tags, hostname, message |
| `submit_histogram_bucket` | `OssLffisO\\|b` | check, check_id, name, value, lower, upper, monotonic, |
| | | hostname, tags[, flush] |
| `submit_event` | `OsO` | check, check_id, event (a dict) |

`s` is a `str` without NUL (`None` and `bytes` are a `TypeError`, a NUL a `ValueError`, a lone
surrogate a `UnicodeEncodeError`); `i` and `b` an integer (a float is a `TypeError`; out of range an
`OverflowError`); `d` and `f` a real number (`float()`-able through `__float__`/`__index__`); `L` an
integer within C `long long`. The tags are any sequence (else `TypeError: tags must be a
sequence`); an item that is not a `str` or `bytes`, or a `str` that does not encode to UTF-8, is
dropped without a word, and each tag ends at its first NUL. Agent 7.66 has no
`submit_histogram_bucket_multi`; later Agents take it with the arguments of
`submit_histogram_bucket` (`StrictAggregator(stub, multi_buckets=False)` is 7.66).
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Sequence
from typing import Any

LONG_LONG_MIN = -(2**63)
LONG_LONG_MAX = 2**63 - 1
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1

# what the Agent's builtin defines besides its functions
CONSTANTS = {
    'GAUGE': 0,
    'RATE': 1,
    'COUNT': 2,
    'MONOTONIC_COUNT': 3,
    'COUNTER': 4,
    'HISTOGRAM': 5,
    'HISTORATE': 6,
}


def _type_name(value: object) -> str:
    return 'None' if value is None else type(value).__name__


def c_string(value: object) -> str:
    """Format unit `s`."""
    if not isinstance(value, str):
        raise TypeError(f'argument must be str, not {_type_name(value)}')
    value.encode('utf-8')  # a lone surrogate raises UnicodeEncodeError, as there
    if '\0' in value:
        raise ValueError('embedded null character')
    return value


def c_integer(value: object, low: int, high: int) -> int:
    """Format units `i`, `L` (and `b`'s integer reading): `__index__`, then the range."""
    if isinstance(value, float):
        raise TypeError("'float' object cannot be interpreted as an integer")
    number = operator.index(value)  # TypeError for anything else
    if number < low or number > high:
        raise OverflowError('int too big to convert')
    return number


def c_byte(value: object) -> int:
    """Format unit `b` (an unsigned char)."""
    number = c_integer(value, LONG_LONG_MIN, LONG_LONG_MAX)
    if number < 0:
        raise OverflowError('unsigned byte integer is less than minimum')
    if number > 255:
        raise OverflowError('unsigned byte integer is greater than maximum')
    return number


def c_double(value: object) -> float:
    """Format unit `d` (and `f`, which then narrows to a C float)."""
    if isinstance(value, float):
        return value
    if hasattr(type(value), '__float__') or hasattr(type(value), '__index__'):
        return float(value)  # OverflowError for an int past the float range
    raise TypeError(f'must be real number, not {_type_name(value)}')


def c_float(value: object) -> float:
    return ctypes.c_float(c_double(value)).value


def c_tags(tags: object) -> list[str]:
    """What the builtin's tag conversion keeps of a tag sequence."""
    if not isinstance(tags, Sequence):
        raise TypeError('tags must be a sequence')
    kept = []
    for tag in tags:
        if isinstance(tag, bytes):
            raw = tag
        elif isinstance(tag, str):
            try:
                raw = tag.encode('utf-8')
            except UnicodeEncodeError:
                continue
        else:
            continue
        kept.append(raw.split(b'\0', 1)[0].decode('utf-8', errors='replace'))
    return kept


def arguments(args: tuple, required: int, optional: int, name: str) -> tuple:
    if not required <= len(args) <= required + optional:
        expected = f'{required}' if not optional else f'from {required} to {required + optional}'
        raise TypeError(f'{name}() takes {expected} arguments ({len(args)} given)')
    return args


class StrictAggregator:
    """Stands where the Agent's `aggregator` module stands; records into `stub`."""

    def __init__(self, stub: Any, multi_buckets: bool = True):
        self.stub = stub
        for name, value in CONSTANTS.items():
            setattr(self, name, value)
        if multi_buckets:
            self.submit_histogram_bucket_multi = self._submit_histogram_bucket_multi

    def submit_metric(self, *args: Any) -> None:
        check, check_id, mtype, name, value, tags, hostname, *rest = arguments(args, 7, 1, 'submit_metric')
        check_id, mtype, name = c_string(check_id), c_integer(mtype, INT_MIN, INT_MAX), c_string(name)
        value, hostname = c_double(value), c_string(hostname)
        flush = bool(c_byte(rest[0])) if rest else False
        self.stub.submit_metric(check, check_id, mtype, name, value, c_tags(tags), hostname, flush)

    def submit_service_check(self, *args: Any) -> None:
        check, check_id, name, status, tags, hostname, message = arguments(args, 7, 0, 'submit_service_check')
        check_id, name = c_string(check_id), c_string(name)
        status, hostname, message = c_integer(status, INT_MIN, INT_MAX), c_string(hostname), c_string(message)
        self.stub.submit_service_check(check, check_id, name, status, c_tags(tags), hostname, message)

    def _bucket(self, args: tuple, name: str) -> tuple:
        check, check_id, metric, value, lower, upper, monotonic, hostname, tags, *rest = arguments(args, 9, 1, name)
        return (
            check,
            c_string(check_id),
            c_string(metric),
            c_integer(value, LONG_LONG_MIN, LONG_LONG_MAX),
            c_float(lower),
            c_float(upper),
            bool(c_integer(monotonic, INT_MIN, INT_MAX)),
            c_string(hostname),
            c_tags(tags),
            bool(c_byte(rest[0])) if rest else False,
        )

    def submit_histogram_bucket(self, *args: Any) -> None:
        self.stub.submit_histogram_bucket(*self._bucket(args, 'submit_histogram_bucket'))

    def _submit_histogram_bucket_multi(self, *args: Any) -> None:
        self.stub.submit_histogram_bucket_multi(*self._bucket(args, 'submit_histogram_bucket_multi'))

    def submit_event(self, *args: Any) -> None:
        check, check_id, event = arguments(args, 3, 0, 'submit_event')
        check_id = c_string(check_id)
        if not isinstance(event, dict):
            raise TypeError('event must be a dict')
        self.stub.submit_event(check, check_id, event)

    def submit_event_platform_event(self, *args: Any) -> None:
        self.stub.submit_event_platform_event(*args)


# The names under which checks reach the aggregator module: AgentCheck's submissions, and the
# native check's direct submission (`check.py` hands its `aggregator.submit_metric` to the core).
AGGREGATOR_REFERENCES = (
    'datadog_checks.base.agent',
    'datadog_checks.base.checks.base',
    'datadog_checks.nvidia_nim.check',
)


def install(monkeypatch: Any, stub: Any, multi_buckets: bool = True) -> StrictAggregator:
    """Puts a strict aggregator in front of `stub` wherever a check looks the aggregator up."""
    import importlib

    strict = StrictAggregator(stub, multi_buckets)
    for module in AGGREGATOR_REFERENCES:
        monkeypatch.setattr(importlib.import_module(module), 'aggregator', strict)
    return strict
