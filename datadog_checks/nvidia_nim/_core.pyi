"""Types of the Rust core (`src/bindings/`), the extension module `datadog_checks.nvidia_nim._core`.

Every public name here is one the module exports and the other way round (tests/test_core_stub.py);
names that start with `_` exist only for typing.
"""

from collections.abc import Callable
from typing import Any, Final, Literal, Protocol

# Record kinds: the first item of every record tuple `Scraper.scrape` returns. The metric kinds are
# the aggregator's metric type codes (gauge 0, rate 1, monotonic_count 3).
REC_GAUGE: Final[int]
REC_RATE: Final[int]
REC_MONOTONIC_COUNT: Final[int]
REC_BUCKET: Final[int]
REC_SERVICE_CHECK: Final[int]
REC_METADATA: Final[int]

# (kind, name, value, tags, hostname, flush_first_value or None for the check's own setting)
_MetricRecord = tuple[int, str, float, list[str], str, bool | None]
# (REC_BUCKET, name, value, lower bound, upper bound, tags, hostname, multiple_buckets, flush_first_value);
# the value is an int when the bucket's samples were (exact, as the stock check keeps it), else a float
_BucketRecord = tuple[int, str, int | float, float, float, list[str], str, bool, bool | None]
# (REC_SERVICE_CHECK, name, status, hostname)
_ServiceCheckRecord = tuple[int, str, int, str]
# (REC_METADATA, metric spec id, name, value)
_MetadataRecord = tuple[int, int, str, str]
_Record = _MetricRecord | _BucketRecord | _ServiceCheckRecord | _MetadataRecord

# None, (exception class name, message) of a parse error, or what the resolver or the aggregator raised
_ScrapeError = tuple[str, str] | BaseException | None

class _Resolver(Protocol):
    """Which transformer a family gets: `(kind, Datadog name, argument, id)` or None (unmapped)."""

    telemetry: bool

    def __call__(self, name: str, family_type: str, sample_count: int, /) -> tuple[str, str, Any, int] | None: ...
    def is_excluded(self, name: str, /) -> bool: ...

class AggregatorTarget:
    """Where `Scraper.scrape` submits records itself, in record order: gauge, rate and
    monotonic_count straight to the Agent's aggregator with `submit_metric(check, check_id, kind,
    name, value, tags, hostname, flush_first_value)`, histogram buckets through
    `check.submit_histogram_bucket`; `namespaced(name)` is the submitted name (None when
    `metric_patterns` drops it), `flush_first_value` the check's."""

    def __init__(
        self,
        *,
        submit_metric: Callable[..., object],
        check: object,
        check_id: str,
        namespaced: Callable[[str], str | None],
        flush_first_value: bool,
    ) -> None: ...

class Scraper:
    """The Rust half of one OpenMetrics scraper; `options` as `ScraperSettings.core_options`."""

    def __init__(self, options: dict[str, Any]) -> None: ...
    @property
    def processed_samples(self) -> int:
        """Samples handed to a transformer during the last scrape (for `telemetry`)."""

    @property
    def input_samples(self) -> list[int]:
        """The number of samples of each family the last scrape parsed, in order (for `telemetry`)."""

    @property
    def filtered_lines(self) -> int:
        """The lines `raw_line_filters` dropped during the last scrape, up to where it ended."""

    def scrape(
        self,
        body: bytes | list[bytes],
        *,
        content_type: str,
        use_latest_spec: bool,
        resolver: _Resolver,
        direct: AggregatorTarget | None = None,
        first_scrape: bool = False,
        agent_start_time: float | None = None,
    ) -> tuple[list[_Record], _ScrapeError]:
        """Parses and transforms one body: the records not submitted directly, and the error the
        scrape stopped at (records made before it are kept)."""

def canonical_number(s: str) -> str:
    """`str(float(s) or 0)`, the canonical bound string; ValueError for a text float() refuses."""

def format_for(content_type: str, use_latest_spec: bool) -> Literal['openmetrics', 'prometheus']:
    """Which parser a Content-Type selects."""
