"""The `latency_percentiles` instance option: validation and the gauge names of the estimates.

The Rust core estimates the configured quantiles of the latency histograms over each check
interval (see `src/percentiles.rs`); this module checks the option and names the gauges
`<histogram>.p<percent>`: 0.5 → `p50`, 0.99 → `p99`, 0.999 → `p99_9`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from datadog_checks.base import ConfigurationError

# Datadog names (before `nvidia_nim.`) of the histograms that get estimates, whatever the NIM
# version or engine: the metric map sends the 1.x, vLLM V1 and SGLang families to these names.
LATENCY_HISTOGRAMS = (
    'time_to_first_token.seconds',
    'time_per_output_token.seconds',
    'e2e_request_latency.seconds',
)


def quantile_suffix(q: float) -> str:
    """`p` and the percentage, with `_` for its decimal point: 0.5 → p50, 0.995 → p99_5."""
    percent = format((Decimal(repr(float(q))) * 100).normalize(), 'f')
    return 'p' + percent.replace('.', '_')


def percentile_options(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The core option: None when unset or empty, else the quantiles (in order, duplicates
    dropped) with their suffixes and the histograms they apply to."""
    by = grouping_labels(config)
    value = config.get('latency_percentiles')
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigurationError(
            'Setting `latency_percentiles` must be a list of quantiles between 0 and 1 (both excluded), '
            f'e.g. [0.5, 0.9, 0.99]; got {value!r}'
        )
    quantiles: list[tuple[float, str]] = []
    for i, q in enumerate(value, 1):
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1:
            raise ConfigurationError(
                f'Entry #{i} of setting `latency_percentiles` must be a number between 0 and 1 (both excluded); '
                f'got {q!r}'
            )
        entry = (float(q), quantile_suffix(q))
        if entry not in quantiles:
            quantiles.append(entry)
    if not quantiles:
        return None
    return {'quantiles': quantiles, 'histograms': list(LATENCY_HISTOGRAMS), 'by': by}


# The labels that tell apart the engines or ranks serving one model: by default the estimate sums
# their bucket increases, so that it is per model (and the other labels).
RANK_LABELS = ('engine', 'tp_rank', 'pp_rank', 'dp_rank', 'moe_ep_rank')


def grouping_labels(config: Mapping[str, Any]) -> list[str] | None:
    """`latency_percentiles_by`: the labels (exposed names) an estimate's series keeps; None for
    the default, every label but `RANK_LABELS`."""
    value = config.get('latency_percentiles_by')
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        raise ConfigurationError(
            f'Setting `latency_percentiles_by` must be a list of label names, e.g. [model_name, engine]; got {value!r}'
        )
    for i, label in enumerate(value, 1):
        if not isinstance(label, str) or not label:
            raise ConfigurationError(
                f'Entry #{i} of setting `latency_percentiles_by` must be a label name; got {label!r}'
            )
    return list(dict.fromkeys(value))
