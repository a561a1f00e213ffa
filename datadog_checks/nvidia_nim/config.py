"""Instance configuration: the stock option layering and validation, the options handed to the
Rust core, and the per-family metric map lookup (`metrics` / `extra_metrics`)."""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from datadog_checks.base import ConfigurationError, is_affirmative

from .metrics import METRIC_MAP, NIM2_METRIC_MAP, RENAME_LABELS_MAP
from .percentiles import percentile_options
from .routes import core_route_options

NATIVE_TYPES = ('counter', 'gauge', 'histogram', 'summary')
TRANSFORMER_TYPES = NATIVE_TYPES + (
    'counter_gauge',
    'metadata',
    'native',
    'native_dynamic',
    'rate',
    'service_check',
    'temporal_percent',
    'time_elapsed',
)
TIME_UNITS = {'microsecond': 1000000, 'millisecond': 1000, 'nanosecond': 1000000000, 'second': 1}
SERVICE_CHECK_STATUSES = {'OK': 0, 'WARNING': 1, 'CRITICAL': 2, 'UNKNOWN': 3}


def default_config() -> dict[str, Any]:
    return {'metrics': [dict(METRIC_MAP), dict(NIM2_METRIC_MAP)], 'rename_labels': dict(RENAME_LABELS_MAP)}


def effective_config(instance: Mapping[str, Any]) -> ChainMap:
    """The instance over the check defaults, option by option; `rename_labels` merged key by key."""
    defaults = default_config()
    renames = instance.get('rename_labels')
    if isinstance(renames, Mapping):
        instance = {**instance, 'rename_labels': {**defaults['rename_labels'], **renames}}
    return ChainMap(dict(instance), defaults)


def is_regex_key(key: str) -> bool:
    return re.escape(key) != key


def normalize_metric_config(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`metrics` then `extra_metrics` as one ordered mapping raw name/regex → {name, type, ...}."""
    normalized: dict[str, dict[str, Any]] = {}
    for option_name in ('metrics', 'extra_metrics'):
        option = config.get(option_name, [])
        if not isinstance(option, list):
            raise TypeError(f'Setting `{option_name}` must be an array')
        for i, entry in enumerate(option, 1):
            if isinstance(entry, str):
                normalized[entry] = {'name': entry, 'type': 'native'}
            elif isinstance(entry, dict):
                for key, value in entry.items():
                    if isinstance(value, str):
                        normalized[key] = {'name': value, 'type': 'native'}
                    elif isinstance(value, dict):
                        normalized[key] = {'name': key, 'type': 'native', **value}
                    else:
                        raise TypeError(
                            f'Value of entry `{key}` of setting `{option_name}` must be a string or a mapping'
                        )
            else:
                raise TypeError(f'Entry #{i} of setting `{option_name}` must be a string or a mapping')
    return normalized


class MetricSpec:
    """One compiled map entry. `native` freezes on the first exposition type it sees."""

    def __init__(self, name: str, mtype: str, modifiers: dict[str, Any], spec_id: int):
        if not isinstance(name, str):
            raise TypeError('field `name` must be a string')
        if not isinstance(mtype, str):
            raise TypeError('field `type` must be a string')
        if mtype not in TRANSFORMER_TYPES:
            raise ValueError(f'unknown type `{mtype}`')
        self.name = name
        self.type = mtype
        self.id = spec_id
        self.arg: Any = None
        self.frozen_native: str | None = None
        self.metadata_options: dict[str, Any] = {}
        if mtype == 'temporal_percent':
            self.arg = float(_temporal_scale(modifiers))
        elif mtype == 'service_check':
            self.arg = _status_map(modifiers)
        elif mtype == 'metadata':
            options = dict(modifiers)
            label = options.pop('label', '')
            if not isinstance(label, str):
                raise TypeError('the `label` parameter must be a string')
            elif not label:
                raise ValueError('the `label` parameter is required')
            self.arg = label
            self.metadata_options = options

    def resolve(self, family_type: str) -> tuple[str, str, Any, int] | None:
        if self.type == 'native':
            if family_type not in NATIVE_TYPES:
                return None
            if self.frozen_native is None:
                self.frozen_native = family_type
            return (self.frozen_native, self.name, None, self.id)
        if self.type == 'native_dynamic':
            if family_type not in NATIVE_TYPES:
                raise KeyError(family_type)
            return (family_type, self.name, None, self.id)
        return (self.type, self.name, self.arg, self.id)


def _temporal_scale(modifiers: Mapping[str, Any]) -> int:
    scale = modifiers.get('scale')
    if scale is None:
        raise ValueError('the `scale` parameter is required')
    if isinstance(scale, str):
        value = TIME_UNITS.get(scale.lower())
        if value is None:
            raise ValueError(f'the `scale` parameter must be one of: {" | ".join(sorted(TIME_UNITS))}')
        return value
    if not isinstance(scale, int):
        raise ValueError(
            'the `scale` parameter must be an integer representing parts of a second e.g. 1000 for millisecond'
        )
    return scale


def _status_map(modifiers: Mapping[str, Any]) -> dict[int, int]:
    status_map = modifiers.get('status_map')
    if status_map is None:
        raise ValueError('the `status_map` parameter is required')
    elif not isinstance(status_map, dict):
        raise ValueError('the `status_map` parameter must be a mapping')
    elif not status_map:
        raise ValueError('the `status_map` parameter must not be empty')
    compiled = {}
    for value, status_string in status_map.items():
        value = str(value)
        try:
            value = int(value)
        except Exception:
            raise TypeError(f'value `{value}` of parameter `status_map` does not represent an integer') from None
        if not isinstance(status_string, str):
            raise ValueError(f'status `{status_string}` for value `{value}` of parameter `status_map` is not a string')
        status = SERVICE_CHECK_STATUSES.get(status_string.upper())
        if status is None:
            raise ValueError(f'invalid status `{status_string}` for value `{value}` of parameter `status_map`')
        compiled[value] = status
    return compiled


class MetricResolver:
    """Family name → transformer, with the stock lookup rules: exclusions first, then the exact
    key, then regex keys in map order (searched, unanchored; the metric keeps its raw name)."""

    def __init__(self, config: Mapping[str, Any]):
        self.cache_wildcards = is_affirmative(config.get('cache_metric_wildcards', True))
        self.exact: dict[str, MetricSpec] = {}
        self.patterns: list[tuple[re.Pattern, dict[str, Any]]] = []
        self.specs: list[MetricSpec] = []
        for key, entry in normalize_metric_config(config).items():
            entry = dict(entry)
            if is_regex_key(key):
                entry.pop('name', None)
                self.patterns.append((re.compile(key), entry))
            else:
                try:
                    self.exact[key] = self._compile(key, entry)
                except Exception as e:
                    raise type(e)(f'Error compiling transformer for metric `{key}`: {e}') from None
        self.exclude_exact: set[str] = set()
        self.exclude_pattern: re.Pattern | None = None
        # With `telemetry`: sample counts per excluded family (the core counts the parsed ones).
        self.telemetry = False
        self.ignored_counts: list[int] = []

    def _compile(self, default_name: str, entry: dict[str, Any]) -> MetricSpec:
        entry = dict(entry)
        name = entry.pop('name', default_name)
        mtype = entry.pop('type', 'native')
        spec = MetricSpec(name, mtype, entry, len(self.specs))
        self.specs.append(spec)
        return spec

    def set_exclusions(self, exact: set[str], pattern: re.Pattern | None) -> None:
        self.exclude_exact = exact
        self.exclude_pattern = pattern

    def take_ignored_counts(self) -> list[int]:
        counts, self.ignored_counts = self.ignored_counts, []
        return counts

    def is_excluded(self, name: str) -> bool:
        return name in self.exclude_exact or (self.exclude_pattern is not None and self.exclude_pattern.search(name))

    def __call__(self, name: str, family_type: str, sample_count: int):
        if self.is_excluded(name):
            if self.telemetry:
                self.ignored_counts.append(sample_count)
            return None
        spec = self.exact.get(name)
        if spec is None:
            for pattern, entry in self.patterns:
                if pattern.search(name):
                    spec = self._compile(name, {**entry, 'name': name})
                    if self.cache_wildcards:
                        self.exact[name] = spec
                    break
        if spec is None:
            return None
        return spec.resolve(family_type)


def share_label_sources(share_labels: Any) -> list[tuple[str, Any, Any, Any]]:
    """`share_labels` as (source, labels, match, values) tuples, with the stock validation."""
    if not isinstance(share_labels, dict):
        raise TypeError('Setting `share_labels` must be a mapping')
    sources = []
    for metric, config in share_labels.items():
        if not isinstance(metric, str):
            # a family name is a string: this source is never seen (a line break cannot be part
            # of a name), as in the stock check
            metric = f'\n{metric!r}'
        if config is True:
            sources.append((metric, None, None, None))
            continue
        if not isinstance(config, dict):
            raise TypeError(f'Metric `{metric}` of setting `share_labels` must be a mapping or set to `true`')
        values = None
        if 'values' in config:
            raw_values = config['values']
            if not isinstance(raw_values, list):
                raise TypeError(f'Option `values` for metric `{metric}` of setting `share_labels` must be an array')
            values = []
            for i, value in enumerate(raw_values, 1):
                try:
                    values.append(int(str(value)))
                except Exception:
                    raise TypeError(
                        f'Entry #{i} of option `values` for metric `{metric}` of '
                        f'setting `share_labels` must represent an integer'
                    ) from None
        options = {}
        for option_name in ('labels', 'match'):
            if option_name not in config:
                continue
            option = config[option_name]
            if not isinstance(option, list):
                raise TypeError(
                    f'Option `{option_name}` for metric `{metric}` of setting `share_labels` must be an array'
                )
            for i, entry in enumerate(option, 1):
                if not isinstance(entry, str):
                    raise TypeError(
                        f'Entry #{i} of option `{option_name}` for metric `{metric}` '
                        f'of setting `share_labels` must be a string'
                    )
            if option:
                options[option_name] = option
        sources.append((metric, options.get('labels'), options.get('match'), values))
    return sources


def _string_list(config: Mapping[str, Any], option: str) -> list[str]:
    value = config.get(option, [])
    if not isinstance(value, list):
        raise ConfigurationError(f'Setting `{option}` must be an array')
    for i, entry in enumerate(value, 1):
        if not isinstance(entry, str):
            raise ConfigurationError(f'Entry #{i} of setting `{option}` must be a string')
    return value


class ScraperSettings:
    """Everything one endpoint's scrape needs, validated in the stock order and with the stock
    messages (raised at the first run, like the stock check)."""

    def __init__(self, check, instance: Mapping[str, Any]):
        config = effective_config(instance)
        self.config = config
        self.endpoint = _endpoint(config)
        histogram = _histogram_options(check, config)
        self.resolver = MetricResolver(config)
        share = _share_options(config)
        self.telemetry = is_affirmative(config.get('telemetry', False))
        self.resolver.telemetry = self.telemetry
        self.raw_metric_prefix = config.get('raw_metric_prefix', '')
        if not isinstance(self.raw_metric_prefix, str):
            raise ConfigurationError('Setting `raw_metric_prefix` must be a string')
        self.enable_health_service_check = is_affirmative(config.get('enable_health_service_check', True))
        self.ignore_connection_errors = is_affirmative(config.get('ignore_connection_errors', False))
        hostname_label, hostname_format = _hostname_options(config)
        exclude_labels = _string_list(config, 'exclude_labels')
        include_labels = _string_list(config, 'include_labels')
        rename_labels = _rename_labels(config)
        self.resolver.set_exclusions(*_metric_exclusions(config))
        exclude_by_labels = _exclude_by_labels(config)
        self.static_tags = _static_tags(config, self.endpoint)
        self.raw_line_filter = _raw_line_filter(config)
        self.use_latest_spec = is_affirmative(config.get('use_latest_spec', False))
        self.use_process_start_time = is_affirmative(config.get('use_process_start_time'))

        # The options of the core's `Scraper` (src/bindings/options.rs); every default is decided here.
        self.core_options = {
            'raw_metric_prefix': self.raw_metric_prefix,
            'exclude_labels': exclude_labels,
            'include_labels': include_labels,
            # label names are strings: a key of another type never matches one (as in the stock check)
            'rename_labels': {k: v for k, v in rename_labels.items() if isinstance(k, str)},
            'exclude_metrics_by_labels': {k: v for k, v in exclude_by_labels.items() if isinstance(k, str)},
            'static_tags': list(self.static_tags),
            'hostname_label': hostname_label,
            'hostname_format': hostname_format if hostname_label else '',
            **histogram,
            **share,
            # read without is_affirmative, as the stock check does: any truthy value caches
            'cache_shared_labels': bool(config.get('cache_shared_labels', True)),
            # opt-in per-interval latency percentiles (percentiles.py, src/percentiles.rs)
            'latency_percentiles': percentile_options(config),
            # `raw_line_filters`, applied by the core as it splits the body into lines
            'raw_line_filter': self.raw_line_filter,
            # the metric map's label routes and superseded families (routes.py)
            **core_route_options(self.resolver),
        }


def _endpoint(config: Mapping[str, Any]) -> str:
    endpoint = config.get('openmetrics_endpoint', '')
    if not isinstance(endpoint, str):
        raise ConfigurationError('The setting `openmetrics_endpoint` must be a string')
    if not endpoint:
        raise ConfigurationError('The setting `openmetrics_endpoint` is required')
    return endpoint


def _histogram_options(check, config: Mapping[str, Any]) -> dict[str, Any]:
    """The core's histogram options, each resolved from the options that imply it."""
    counters_with_distributions = is_affirmative(config.get('collect_counters_with_distributions', False))
    omit_bound_tags = is_affirmative(config.get('collect_histograms_as_distributions', False))
    if omit_bound_tags:
        unsupported = getattr(check, 'multiple_histogram_buckets_unsupported_reason', None)
        reason = unsupported() if unsupported is not None else 'is not supported by this Agent'
        if reason:
            raise ConfigurationError(f'`collect_histograms_as_distributions` {reason}')
    distributions = (
        counters_with_distributions
        or omit_bound_tags
        or is_affirmative(config.get('histogram_buckets_as_distributions', False))
    )
    # without buckets there is nothing to decumulate: `non_cumulative_histogram_buckets` only
    # applies while buckets are collected
    collect_buckets = distributions or is_affirmative(config.get('collect_histogram_buckets', True))
    non_cumulative = distributions or (
        collect_buckets and is_affirmative(config.get('non_cumulative_histogram_buckets', False))
    )
    renames = config.get('rename_labels')
    upper_bound = renames.get('upper_bound', 'upper_bound') if isinstance(renames, dict) else 'upper_bound'
    return {
        'collect_histogram_buckets': collect_buckets,
        'non_cumulative_histogram_buckets': non_cumulative,
        'histogram_buckets_as_distributions': distributions,
        'collect_counters_with_distributions': counters_with_distributions,
        'collect_histograms_as_distributions': omit_bound_tags,
        'histogram_bound_tag_prefixes': [f'{upper_bound}:', 'lower_bound:'],
    }


def _share_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """`share_labels` (as source tuples) and `target_info`."""
    if not isinstance(config.get('share_labels', {}), dict):
        raise TypeError('Setting `share_labels` must be a mapping')
    target_info = config.get('target_info', False)
    if not isinstance(target_info, bool):
        raise TypeError('Setting `target_info` must be a boolean')
    return {'share_labels': share_label_sources(config.get('share_labels', {})), 'target_info': target_info}


def _hostname_options(config: Mapping[str, Any]) -> tuple[str, str]:
    hostname_label = config.get('hostname_label', '')
    if not isinstance(hostname_label, str):
        raise ConfigurationError('Setting `hostname_label` must be a string')
    hostname_format = config.get('hostname_format', '')
    if not isinstance(hostname_format, str):
        raise ConfigurationError('Setting `hostname_format` must be a string')
    if hostname_label and hostname_format and '<HOSTNAME>' not in hostname_format:
        raise ConfigurationError('Setting `hostname_format` does not contain the placeholder `<HOSTNAME>`')
    return hostname_label, hostname_format


def _rename_labels(config: Mapping[str, Any]) -> dict:
    rename_labels = config.get('rename_labels', {})
    if not isinstance(rename_labels, dict):
        raise ConfigurationError('Setting `rename_labels` must be a mapping')
    for key, value in rename_labels.items():
        if not isinstance(value, str):
            raise ConfigurationError(f'Value for label `{key}` of setting `rename_labels` must be a string')
    return rename_labels


def _metric_exclusions(config: Mapping[str, Any]) -> tuple[set[str], re.Pattern | None]:
    """`exclude_metrics`: the exact names, and one pattern of the regex entries."""
    exclude_metrics = _string_list(config, 'exclude_metrics')
    exact = {e for e in exclude_metrics if not is_regex_key(e)}
    patterns = [e for e in exclude_metrics if is_regex_key(e)]
    return exact, re.compile('|'.join(patterns)) if patterns else None


def _exclude_by_labels(config: Mapping[str, Any]) -> dict[Any, Any]:
    """`exclude_metrics_by_labels`: label → True, or the pattern the core searches its values with."""
    by_labels = config.get('exclude_metrics_by_labels', {})
    if not isinstance(by_labels, dict):
        raise ConfigurationError('Setting `exclude_metrics_by_labels` must be a mapping')
    exclude_by_labels: dict[Any, Any] = {}
    for label, values in by_labels.items():
        if values is True:
            exclude_by_labels[label] = True
        elif isinstance(values, list):
            for i, value in enumerate(values, 1):
                if not isinstance(value, str):
                    raise ConfigurationError(
                        f'Value #{i} for label `{label}` of setting `exclude_metrics_by_labels` must be a string'
                    )
            exclude_by_labels[label] = re.compile('|'.join(values))
        else:
            raise ConfigurationError(
                f'Label `{label}` of setting `exclude_metrics_by_labels` must be an array or set to `true`'
            )
    return exclude_by_labels


def _static_tags(config: Mapping[str, Any], endpoint: str) -> tuple[str, ...]:
    """`tags` less `ignore_tags`, and `endpoint:<url>` with `tag_by_endpoint`."""
    tags = _string_list(config, 'tags')
    ignore_tags = config.get('ignore_tags', [])
    if ignore_tags:
        ignored = re.compile('|'.join(set(ignore_tags)))
        tags = [tag for tag in tags if not ignored.search(tag)]
    static_tags = list(tags)
    if is_affirmative(config.get('tag_by_endpoint', True)):
        static_tags.append(f'endpoint:{endpoint}')
    return tuple(static_tags)


def _raw_line_filter(config: Mapping[str, Any]) -> re.Pattern | None:
    raw_line_filters = _string_list(config, 'raw_line_filters')
    return re.compile('|'.join(raw_line_filters)) if raw_line_filters else None
