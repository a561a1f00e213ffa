"""The Agent-facing check: fetch the body (download.py), hand it to the Rust core, submit what it
returns through the AgentCheck API (or let the core submit metrics straight to the aggregator),
then send the NIM version metadata (version.py)."""

from __future__ import annotations

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
from .download import MAX_BODY_BYTES, MetricsDownload
from .version import NimVersionMetadata

__all__ = ['MAX_BODY_BYTES', 'NvidiaNIMCheck']

# The exceptions the core's parse errors name (the ones the stock parsers raise).
CORE_EXCEPTIONS = {
    'ValueError': ValueError,
    'IndexError': IndexError,
    'KeyError': KeyError,
    'OverflowError': OverflowError,
}


class NvidiaNIMCheck(AgentCheck, ConfigMixin, NimVersionMetadata, MetricsDownload):
    """Collects NVIDIA NIM metrics from its OpenMetrics endpoint."""

    __NAMESPACE__ = 'nvidia_nim'
    DEFAULT_METRIC_LIMIT = 0
    SERVICE_CHECK_HEALTH = 'openmetrics.health'

    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        self.settings: ScraperSettings | None = None
        self._core: _core.Scraper | None = None
        self._transport = None  # the metrics request's (MetricsDownload), made at the first request
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

    def _scrape(self, settings: ScraperSettings) -> None:
        download = self.download(settings)
        if download is None:
            return
        content_type, body = download
        first_scrape = settings.use_process_start_time and self._flush_first_value is None
        records, error = self._core.scrape(
            body,
            content_type=content_type,
            use_latest_spec=settings.use_latest_spec,
            resolver=settings.resolver,
            direct=self._aggregator_target(),
            first_scrape=first_scrape,
            agent_start_time=datadog_agent.get_process_start_time() if first_scrape else None,
        )
        self._submit(settings, records)
        if settings.telemetry:
            self._submit_telemetry(settings)
        if isinstance(error, BaseException):
            raise error
        if error is not None:
            kind, message = error
            raise CORE_EXCEPTIONS.get(kind, ValueError)(message)

    def _aggregator_target(self) -> _core.AggregatorTarget | None:
        """Where the core submits metrics itself, straight to the aggregator; None when they go
        through the AgentCheck API. AgentCheck's submission would only namespace the name, apply
        `metric_patterns` and copy the tag list, which the core does itself (names cached per
        scraper). The limiter and generic-tag renaming keep the API path."""
        if self.metric_limiter or self.disable_generic_tags or getattr(self, '_discovery_aggregator', None) is not None:
            return None
        return _core.AggregatorTarget(
            submit_metric=aggregator.submit_metric,
            check=self,
            check_id=self.check_id,
            namespaced=self._namespaced,
            flush_first_value=bool(self._flush_first_value),
        )

    def _namespaced(self, name: str) -> str | None:
        """The submitted name of a metric, or None when `metric_patterns` filters it out (the core
        caches the answer per name)."""
        full = f'{self.__NAMESPACE__}.{name}'
        return full if self.should_send_metric(full) else None

    def _submit_telemetry(self, settings: ScraperSettings) -> None:
        """The stock scraper's telemetry counts, one submission per family, line or sample."""
        tags = list(settings.static_tags)
        for n in self._core.input_samples:
            self.count('telemetry.metrics.input.count', n, tags=tags)
        for n in settings.resolver.take_ignored_counts():
            self.count('telemetry.metrics.ignored.count', n, tags=tags)
        for _ in range(self._core.processed_samples):
            self.count('telemetry.metrics.processed.count', 1, tags=tags)
        for _ in range(self._core.filtered_lines):
            self.count('telemetry.metrics.blacklist.count', 1, tags=tags)

    def _submit(self, settings: ScraperSettings, records: list) -> None:
        """Submits the records the core returned (all of them, or all but the metrics it
        submitted itself) through the AgentCheck API."""
        ffv = bool(self._flush_first_value)
        gauge, rate, monotonic_count = self.gauge, self.rate, self.monotonic_count
        for record in records:
            kind = record[0]
            if kind == REC_GAUGE or kind == REC_MONOTONIC_COUNT or kind == REC_RATE:
                _, name, value, tags, hostname, flush = record
                if kind == REC_GAUGE:
                    gauge(name, value, tags=tags, hostname=hostname)
                elif kind == REC_MONOTONIC_COUNT:
                    flush = ffv if flush is None else flush
                    monotonic_count(name, value, tags=tags, hostname=hostname, flush_first_value=flush)
                else:
                    rate(name, value, tags=tags, hostname=hostname)
            elif kind == REC_BUCKET:
                _, name, value, lower, upper, tags, hostname, multiple, flush = record
                flush = ffv if flush is None else flush
                extra = {'multiple_buckets': True} if multiple else {}
                self.submit_histogram_bucket(
                    name, value, lower or 0, upper or 0, True, hostname, tags, flush_first_value=flush, **extra
                )
            elif kind == REC_SERVICE_CHECK:
                _, name, status, hostname = record
                self.service_check(name, status, tags=settings.static_tags, hostname=hostname)
            elif kind == REC_METADATA:
                _, spec_id, name, value = record
                spec = settings.resolver.specs[spec_id]
                self.set_metadata(name, value, **spec.metadata_options)
