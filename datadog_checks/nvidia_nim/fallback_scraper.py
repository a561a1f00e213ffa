"""The fallback check's scraper: datadog-checks-base's OpenMetrics V2 scraper with the metric map's
label routes, superseded families and info gauges (`routes.py`) applied as the Rust core applies them, so the
fallback sends on a NIM 2.x what the native check sends."""

from __future__ import annotations

from datadog_checks.base.checks.openmetrics.v2.scraper import OpenMetricsScraper

from .config import normalize_metric_config
from .routes import has_sample_line, info_gauges_for, info_value, matches, routes_for, superseded_for


def without(tags: list[str], tag: str) -> list[str]:
    """`tags` without the first occurrence of `tag`."""
    if tag not in tags:
        return tags
    i = tags.index(tag)
    return tags[:i] + tags[i + 1 :]


class Nim2Scraper(OpenMetricsScraper):
    def __init__(self, check, config):
        super().__init__(check, config)
        names = {key: entry['name'] for key, entry in normalize_metric_config(config).items()}
        for family, (label, targets) in routes_for(names).items():
            if family in self.metric_transformer.transformer_data:
                self.metric_transformer.transformer_data[family] = ('native', self._routed(label, targets))
        for family, gauges in info_gauges_for(names).items():
            if family in self.metric_transformer.transformer_data:
                self.metric_transformer.transformer_data[family] = ('native', self._info(gauges))
        self._superseded = dict(superseded_for(names, self._is_excluded))
        self._dropped: set[str] = set()

    def _is_excluded(self, name: str) -> bool:
        pattern = self.exclude_metrics_pattern
        return name in self.exclude_metrics or (pattern is not None and bool(pattern.search(name)))

    def _routed(self, label, targets):
        compiled = [
            (match, values, keep, self.metric_transformer.compile_transformer({'name': name, 'type': 'native'})[1])
            for name, match, values, keep in targets
        ]
        tag_name = self._tag_name(label)

        def routed(metric, sample_data, runtime_data):
            for sample, tags, hostname in sample_data:
                value = sample.labels.get(label, '')
                for match, values, keep, transformer in compiled:
                    if matches(match, values, value):
                        sent = tags if keep else without(tags, f'{tag_name}:{value}')
                        transformer(metric, [(sample, sent, hostname)], runtime_data)

        return routed

    def _tag_name(self, label: str) -> str:
        return self.rename_labels.get(label, label) if isinstance(self.rename_labels, dict) else label

    def _info(self, gauges):
        used = {label for _, _, label in gauges}

        def info(metric, sample_data, runtime_data):
            latest = None
            for sample, tags, hostname in sample_data:
                if sample.name == metric.name and (latest is None or sample.value > latest[0].value):
                    latest = (sample, tags, hostname)
            if latest is None:
                return
            sample, tags, hostname = latest
            for label in used:
                if label in sample.labels:
                    tags = without(tags, f'{self._tag_name(label)}:{sample.labels[label]}')
            for name, how, label in gauges:
                value = info_value(how, sample.labels.get(label, ''))
                if value is not None:
                    self.check.gauge(name, value, tags=tags, hostname=hostname)

        return info

    def stream_connection_lines(self):
        """The body's lines, streamed as by the stock scraper until a line names an old family:
        then the rest is read, and the old families whose current one has a sample line (among
        the lines `raw_line_filters` keeps, as the core sees them) are marked to be dropped."""
        self._dropped = set()
        lines = super().stream_connection_lines()
        if not self._superseded:
            yield from lines
            return
        prefix = self.raw_metric_prefix or ''
        olds = [prefix + old for old in self._superseded]
        currents = tuple(prefix + current for current in self._superseded.values())
        seen: list[str] = []
        for line in lines:
            if any(old in line for old in olds):
                rest = [line, *lines]
                kept = [ln for ln in seen + rest if self.raw_line_filter is None or not self.raw_line_filter.search(ln)]
                self._dropped = {
                    old for old, current in self._superseded.items() if has_sample_line(kept, prefix + current)
                }
                yield from rest
                return
            if line.startswith(currents):
                seen.append(line)
            yield line

    def parse_metrics(self):
        for metric in super().parse_metrics():
            if metric.name not in self._dropped:
                yield metric
