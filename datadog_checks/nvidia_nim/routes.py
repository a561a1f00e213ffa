"""The metric map's label routes, superseded families and info gauges (`metrics.py`) as the Rust core takes them
(`src/transform/route.rs`, `src/transform/supersede.rs`), and their Python twin for the fallback
check, which runs datadog-checks-base's own scraper."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .metrics import INFO_GAUGES, LABEL_ROUTES, SUPERSEDED

Target = tuple[str, str, list[str], bool]
ROUTE_MATCHES = ('any', 'in', 'not_in')
SAMPLE_SUFFIXES = ('_total', '_bucket', '_count', '_sum', '_gcount', '_gsum')


def routes_for(names: Mapping[str, str]) -> dict[str, tuple[str, list[Target]]]:
    """Family → (label, targets) for the routed families whose map entry (`names`: exact key →
    Datadog name) has the route's own name."""
    routes = {}
    for family, route in LABEL_ROUTES.items():
        if names.get(family) != route['name']:
            continue
        targets = [(name, match, list(values), bool(keep)) for name, match, values, keep in route['targets']]
        if any(match not in ROUTE_MATCHES for _, match, _, _ in targets):
            raise ValueError(f'label route of `{family}`: a match must be one of {ROUTE_MATCHES}')
        routes[family] = (route['label'], targets)
    return routes


def superseded_for(names: Mapping[str, str], excluded) -> list[tuple[str, str]]:
    """(old, current) pairs whose families both map to the same Datadog name, the current one not
    excluded by `exclude_metrics`."""
    return [
        (old, current)
        for old, current in SUPERSEDED.items()
        if old in names and names.get(current) == names[old] and not excluded(current)
    ]


def info_gauges_for(names: Mapping[str, str]) -> dict[str, list[tuple[str, str, str]]]:
    """Family → gauges for the info families whose map entry has the spec's own name."""
    out = {}
    for family, spec in INFO_GAUGES.items():
        if names.get(family) == spec['name']:
            gauges = [tuple(g) for g in spec['gauges']]
            if any(how not in ('count', 'number') for _, how, _ in gauges):
                raise ValueError(f'info gauges of `{family}`: a value must be `count` or `number`')
            out[family] = gauges
    return out


def info_value(how: str, label_value: str) -> float | None:
    """A gauge's value from its label's value, as the core computes it."""
    if how == 'count':
        return float(len([item for item in label_value.split(',') if item.strip()]))
    try:
        value = float(label_value)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def core_route_options(resolver) -> dict[str, Any]:
    """The core options of both specs, from a `config.MetricResolver`."""
    names = {key: spec.name for key, spec in resolver.exact.items()}
    routes = routes_for(names)
    return {
        'label_routes': {resolver.exact[family].id: route for family, route in routes.items()},
        'superseded': superseded_for(names, resolver.is_excluded),
        'info_gauges': {resolver.exact[family].id: gauges for family, gauges in info_gauges_for(names).items()},
    }


def matches(match: str, values: list[str], value: str) -> bool:
    if match == 'any':
        return True
    return (value in values) == (match == 'in')


def has_sample_line(lines: Iterable[str], family: str) -> bool:
    """Whether a line is a sample of `family` (after optional spaces and tabs, its name, an
    optional sample suffix, then `{` or a space or a tab), as the core decides it."""
    suffixes = '|'.join(map(re.escape, SAMPLE_SUFFIXES))
    pattern = re.compile(f'[ \t]*{re.escape(family)}(?:{suffixes})?[{{ \t]')
    return any(pattern.match(line) for line in lines)
