"""The core caches what each series emits across scrapes (and the Python objects it submits
with). These runs change the series between scrapes — order, additions, removals, a cache reset —
and compare every run with the stock check, which keeps no such cache."""

import random

from common import PROM_CONTENT_TYPE, PayloadServer, StockNvidiaNIMCheck, assert_same_submissions, run_error, snapshot

from datadog_checks.nvidia_nim import NvidiaNIMCheck
from datadog_checks.nvidia_nim.emulator import NimMetrics


def families(body: bytes) -> list[list[bytes]]:
    """The body's lines grouped per family (a family starts at its `# HELP`)."""
    groups: list[list[bytes]] = []
    for line in body.splitlines():
        if line.startswith(b'# HELP') or not groups:
            groups.append([])
        groups[-1].append(line)
    return groups


def shuffled(body: bytes, seed: int) -> bytes:
    """Same series, families and series within each family in a different order."""
    rng = random.Random(seed)
    groups = families(body)
    rng.shuffle(groups)
    out = []
    for group in groups:
        comments = [line for line in group if line.startswith(b'#')]
        samples = [line for line in group if not line.startswith(b'#')]
        rng.shuffle(samples)
        out += comments + samples
    return b'\n'.join(out) + b'\n'


def run_sequence(aggregator, datadog_agent, bodies, options=None):
    with PayloadServer(content_type=PROM_CONTENT_TYPE) as server:
        instance = {'openmetrics_endpoint': server.base_url + '/metrics', 'tags': ['t:1'], **(options or {})}
        stock = StockNvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
        ours = NvidiaNIMCheck('nvidia_nim', {}, [dict(instance)])
        metadata = {stock: {}, ours: {}}  # as the Agent holds it: the last value per name
        for i, body in enumerate(bodies):
            server.body = body
            snaps = []
            for check in (stock, ours):
                aggregator.reset()
                datadog_agent.reset()
                error = run_error(check.run())
                snap = {**snapshot(aggregator, datadog_agent), 'warnings': check.get_warnings()}
                metadata[check].update(snap['metadata'])
                snap['metadata'] = dict(metadata[check])
                snaps.append((error, snap))
            (stock_error, stock_snap), (our_error, our_snap) = snaps
            assert our_error == stock_error, f'run {i}'
            assert_same_submissions(stock_snap, our_snap)
            assert stock_snap['metrics'], f'run {i} submitted nothing'


def bodies_for(models: int, seed: int) -> bytes:
    return NimMetrics(models=models, seed=seed).exposition('text/plain')[0]


def test_reordered_added_and_removed_series(aggregator, datadog_agent):
    base = bodies_for(8, 1)
    run_sequence(
        aggregator,
        datadog_agent,
        [
            base,
            shuffled(base, 1),
            shuffled(base, 2),
            bodies_for(3, 2),  # series removed
            bodies_for(12, 3),  # series added, values changed
            base,
        ],
    )


def test_cache_reset_after_series_go_away(aggregator, datadog_agent):
    # Many series, then few (the cache holds far more than one scrape uses and starts over), then
    # many again: every run must still submit the right names and tags.
    many, few = bodies_for(40, 4), bodies_for(1, 5)
    run_sequence(aggregator, datadog_agent, [many, few, few, many, shuffled(many, 3), few])


def test_cached_series_with_metric_patterns_and_renames(aggregator, datadog_agent):
    options = {
        'metric_patterns': {'exclude': ['bucket$']},
        'rename_labels': {'model_name': 'model'},
        'exclude_labels': ['finished_reason'],
    }
    base = bodies_for(5, 6)
    run_sequence(aggregator, datadog_agent, [base, shuffled(base, 4), bodies_for(2, 7), base], options)
