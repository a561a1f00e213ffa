"""The Agent-facing check: fetch through the Agent's HTTP wrapper, hand the body to the Rust core,
submit what it returns through the AgentCheck API, then send the NIM version metadata."""

from __future__ import annotations

import codecs
import re

from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import RequestException

from datadog_checks.base import AgentCheck
from datadog_checks.base.agent import aggregator, datadog_agent

try:  # the base's own reporter (datadog-checks-base 38.x); older bases report no limit issue
    from datadog_checks.base.checks.openmetrics.metric_limit_issue import MetricLimitIssueReporter
except ImportError:  # pragma: no cover - depends on the Agent's base version
    MetricLimitIssueReporter = None

from . import _core

# Record kinds (the first item of each record the core returns), defined by the core
from ._core import REC_BUCKET, REC_GAUGE, REC_METADATA, REC_MONOTONIC_COUNT, REC_RATE, REC_SERVICE_CHECK
from .config import ScraperSettings
from .config_models import ConfigMixin
from .transport import Transport, transport_for
from .version import NimVersionMetadata

ACCEPT_PROMETHEUS = 'text/plain'
ACCEPT_OPENMETRICS = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1'
# Read the body in chunks of this size; refuse bodies past MAX_BODY_BYTES (after decompression).
READ_CHUNK_BYTES = 1 << 18
MAX_BODY_BYTES = 256 * 1024 * 1024

# Where the core ends lines (not at the other characters str.splitlines() breaks at).
LINE_BREAK = re.compile('\r\n|\r|\n')

CORE_EXCEPTIONS = {
    'ValueError': ValueError,
    'IndexError': IndexError,
    'KeyError': KeyError,
    'OverflowError': OverflowError,
}


class ResponseTooLargeError(ValueError):
    """The metrics body is larger than this check accepts."""


def declares_charset(content_type: str) -> bool:
    """Whether a Content-Type header names a (non-empty) charset, as requests reads its parameters."""
    for param in content_type.split(';')[1:]:
        key, sep, value = param.partition('=')
        if sep and key.strip().lower() == 'charset' and value.strip().strip('\'"'):
            return True
    return False


class NvidiaNIMCheck(AgentCheck, ConfigMixin, NimVersionMetadata):
    """Collects NVIDIA NIM metrics from its OpenMetrics endpoint."""

    __NAMESPACE__ = 'nvidia_nim'
    DEFAULT_METRIC_LIMIT = 0
    SERVICE_CHECK_HEALTH = 'openmetrics.health'

    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        self.settings: ScraperSettings | None = None
        self._core: _core.Scraper | None = None
        # the metrics request's transport, made at the first request
        self._transport: Transport | None = None
        # None until the first successful scrape, then True; False after a failure that follows one.
        self._flush_first_value: bool | None = None
        self.check_initializations.append(self._configure)

    def _configure(self) -> None:
        self.settings = ScraperSettings(self, self.instance)
        self._core = _core.Scraper(self.settings.core_options)

    def check(self, _instance):
        # `_configure` ran first: the Agent only calls `check` once the initializations succeeded
        settings = self.settings
        try:
            self._scrape(settings)
        except BaseException as e:
            # a NIM that restarts (and may come back upgraded) fails a scrape first
            self.version_lookup_due_now()
            if self._flush_first_value:
                self._flush_first_value = False
            if isinstance(e, ConnectionError | RequestException):
                self.log.error('There was an error scraping endpoint %s: %s', settings.endpoint, e)
                raise type(e)(f'There was an error scraping endpoint {settings.endpoint}: {e}') from None
            raise
        self._flush_first_value = True
        self.submit_version_metadata(settings.endpoint)

    def _on_metric_limit_state(self, reached_limit: bool, observed_count: int, limit: int) -> None:
        """With `max_returned_metrics`, report (or resolve) the dropped-metrics issue as the stock
        OpenMetrics check does."""
        if MetricLimitIssueReporter is None or self.settings is None:
            return
        reporter = MetricLimitIssueReporter(filter_option_text='metrics / exclude_metrics')
        reporter.handle(self, [self.settings.endpoint], reached_limit, observed_count, limit)

    # --- scrape ---------------------------------------------------------------------------------

    def _health(self, status: int, message: str | None = None) -> None:
        settings = self.settings
        if settings is not None and settings.enable_health_service_check:
            self.service_check(self.SERVICE_CHECK_HEALTH, status, tags=settings.static_tags, message=message)

    def _fetch(self, settings: ScraperSettings):
        """GET the endpoint; a failure or an error status sends the CRITICAL health check."""
        options = {'stream': True}
        if self.http.options['headers'].get('Accept') == '*/*':
            accept = ACCEPT_OPENMETRICS if settings.use_latest_spec else ACCEPT_PROMETHEUS
            options['extra_headers'] = {'Accept': accept}
        try:
            if self._transport is None:
                self._transport = transport_for(self, settings.endpoint)
            response = self._transport.get(**options)
        except Exception as e:
            self._health(AgentCheck.CRITICAL, message=str(e))
            raise
        try:
            response.raise_for_status()
        except Exception as e:
            self._health(AgentCheck.CRITICAL, message=str(e))
            response.close()
            raise
        return response

    @staticmethod
    def _read_body(response) -> list[bytes]:
        """The body as read, in chunks (the core joins them into a buffer it keeps between
        scrapes, which saves allocating and faulting in a new one every time)."""
        chunks = []
        size = 0
        for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ResponseTooLargeError(f'Response body is larger than {MAX_BODY_BYTES} bytes')
            chunks.append(chunk)
        return chunks

    @staticmethod
    def _as_utf8(chunks: list[bytes], encoding: str | None) -> list[bytes]:
        """The body as UTF-8: decoded from `encoding` (invalid bytes replaced), or as UTF-8 when
        there is none."""
        encoding = encoding or 'utf-8'
        try:
            if codecs.lookup(encoding).name == 'utf-8':
                return chunks
        except LookupError:
            pass
        return [b''.join(chunks).decode(encoding, errors='replace').encode('utf-8')]

    def _download(self, settings: ScraperSettings) -> tuple[str, list[bytes]] | None:
        """The endpoint's Content-Type and body (as UTF-8), the health check sent; None when the
        endpoint cannot be reached and `ignore_connection_errors` is set."""
        try:
            response = self._fetch(settings)
        except RequestsConnectionError:
            if not settings.ignore_connection_errors:
                raise
            self.log.warning('OpenMetrics endpoint %s is not accessible', settings.endpoint)
            self.version_lookup_due_now()
            return None
        with response:
            content_type = response.headers.get('Content-Type', '')
            try:
                raw = self._read_body(response)
            except Exception as e:
                # The body did not arrive whole (cut short of its Content-Length, a broken chunked
                # encoding or gzip stream, a read timeout, past MAX_BODY_BYTES): nothing of it is used.
                self._health(AgentCheck.CRITICAL, message=str(e))
                if isinstance(e, RequestsConnectionError) and settings.ignore_connection_errors:
                    self.log.warning('OpenMetrics endpoint %s is not accessible', settings.endpoint)
                    self.version_lookup_due_now()
                    return None
                raise
            self._health(AgentCheck.OK)
            if settings.telemetry:
                length = response.headers.get('Content-Length')
                size = int(length) if length is not None else sum(map(len, raw))
                self.gauge('telemetry.payload.size', size, tags=list(settings.static_tags))
            # the declared charset, else UTF-8 (requests would fall back to ISO-8859-1 for text/*)
            return content_type, self._as_utf8(raw, response.encoding if declares_charset(content_type) else None)

    def _scrape(self, settings: ScraperSettings) -> None:
        try:
            download = self._download(settings)
        finally:
            if self._transport is not None:
                self._transport.release()
        if download is None:
            return
        content_type, body = download
        if settings.raw_line_filter is not None:
            body = self._filter_lines(settings, body)
        direct = None
        if self._fast_path():
            ffv = bool(self._flush_first_value)
            direct = (aggregator.submit_metric, self, self.check_id, self._namespaced, ffv)
        first_scrape = settings.use_process_start_time and self._flush_first_value is None
        agent_start_time = datadog_agent.get_process_start_time() if first_scrape else None
        records, error = self._core.scrape(
            body, content_type, settings.use_latest_spec, settings.resolver, direct, first_scrape, agent_start_time
        )
        self._submit(settings, records)
        if settings.telemetry:
            self._submit_telemetry(settings)
        if error is not None:
            if isinstance(error, BaseException):
                raise error
            kind, message = error
            raise CORE_EXCEPTIONS.get(kind, ValueError)(message)

    def _namespaced(self, name: str) -> str | None:
        """The submitted name of a metric, or None when `metric_patterns` filters it out (the core
        caches the answer per name)."""
        full = f'{self.__NAMESPACE__}.{name}'
        return full if self.should_send_metric(full) else None

    def _fast_path(self) -> bool:
        """Whether metrics can go straight to the aggregator: AgentCheck's submission would only
        namespace the name, apply `metric_patterns` and copy the tag list, which the core does
        itself (names cached per scraper). The limiter and generic-tag renaming keep the API path."""
        return (
            not self.metric_limiter
            and not self.disable_generic_tags
            and getattr(self, '_discovery_aggregator', None) is None
        )

    def _filter_lines(self, settings: ScraperSettings, chunks: list[bytes]) -> list[bytes]:
        """`raw_line_filters`: lines (split where the core splits them) matching a filter are
        dropped before parsing."""
        kept = []
        dropped = 0
        lines = LINE_BREAK.split(b''.join(chunks).decode('utf-8', errors='replace'))
        if lines and not lines[-1]:
            lines.pop()
        for line in lines:
            if settings.raw_line_filter.search(line):
                dropped += 1
            else:
                kept.append(line + '\n')
        if settings.telemetry:
            tags = list(settings.static_tags)
            for _ in range(dropped):
                self.count('telemetry.metrics.blacklist.count', 1, tags=tags)
        return [''.join(kept).encode('utf-8')]

    def _submit_telemetry(self, settings: ScraperSettings) -> None:
        tags = list(settings.static_tags)
        inputs, ignored = settings.resolver.take_telemetry()
        for n in inputs:
            self.count('telemetry.metrics.input.count', n, tags=tags)
        for n in ignored:
            self.count('telemetry.metrics.ignored.count', n, tags=tags)
        for _ in range(self._core.processed_samples):
            self.count('telemetry.metrics.processed.count', 1, tags=tags)

    def _submit(self, settings: ScraperSettings, records: list) -> None:
        """Submits the records the core returned (all of them, or all but the metrics it
        submitted itself) through the AgentCheck API."""
        ffv = bool(self._flush_first_value)
        gauge, rate, monotonic_count = self.gauge, self.rate, self.monotonic_count
        for record in records:
            kind = record[0]
            if kind == REC_GAUGE:
                gauge(record[1], record[2], tags=record[3], hostname=record[4])
            elif kind == REC_MONOTONIC_COUNT:
                flush = ffv if record[5] is None else record[5]
                monotonic_count(record[1], record[2], tags=record[3], hostname=record[4], flush_first_value=flush)
            elif kind == REC_RATE:
                rate(record[1], record[2], tags=record[3], hostname=record[4])
            elif kind == REC_BUCKET:
                _, name, value, lower, upper, tags, hostname, multiple, flush = record
                lower = lower or 0
                upper = upper or 0
                flush = ffv if flush is None else flush
                extra = {'multiple_buckets': True} if multiple else {}
                self.submit_histogram_bucket(
                    name, value, lower, upper, True, hostname, tags, flush_first_value=flush, **extra
                )
            elif kind == REC_SERVICE_CHECK:
                self.service_check(record[1], record[2], tags=settings.static_tags, hostname=record[3])
            elif kind == REC_METADATA:
                spec = settings.resolver.specs[record[1]]
                self.set_metadata(record[2], record[3], **spec.metadata_options)
