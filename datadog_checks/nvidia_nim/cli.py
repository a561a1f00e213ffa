"""`python -m datadog_checks.nvidia_nim`: run the check once (or twice with --check-rate) the way
`agent check nvidia_nim` does, and print what it submitted.

Without -c/--endpoint it starts the embedded NIM emulator on loopback and scrapes that; --dialect
picks what it serves (NIM 1.x, or a NIM 2.x passing vLLM V1 or SGLang metrics through)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import yaml

from datadog_checks.base.stubs import aggregator, datadog_agent

from . import NvidiaNIMCheck
from .emulator import DIALECTS, NimEmulator

METRIC_TYPES = {0: 'gauge', 1: 'rate', 2: 'count', 3: 'monotonic_count', 4: 'counter', 5: 'histogram', 6: 'historate'}
STATUSES = {0: 'OK', 1: 'WARNING', 2: 'CRITICAL', 3: 'UNKNOWN'}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m datadog_checks.nvidia_nim', description=__doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument('-c', '--config', metavar='FILE', help='a conf.d-style YAML (init_config + instances)')
    source.add_argument('--endpoint', metavar='URL', help='the NIM metrics endpoint, e.g. http://host:8000/v1/metrics')
    parser.add_argument('-r', '--check-rate', action='store_true', help='run twice, 1 s apart, and show the 2nd run')
    parser.add_argument('--json', action='store_true', help='print JSON instead of tables')
    parser.add_argument('--models', type=int, default=1, help='models served by the embedded emulator (default 1)')
    parser.add_argument(
        '--dialect',
        choices=DIALECTS,
        default='nim1',
        help='what the embedded emulator serves: NIM 1.x (nim1, default), NIM 2.x with vLLM V1 (vllm) or SGLang',
    )
    parser.add_argument(
        '--latency-percentiles',
        metavar='Q,Q,...',
        type=lambda text: [float(q) for q in text.split(',') if q.strip()],
        help='set the instance option latency_percentiles, e.g. 0.5,0.9,0.99 (estimates from the 2nd run on: use -r)',
    )
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> tuple[dict, list[dict]]:
    if args.config:
        with open(args.config) as f:
            data = yaml.safe_load(f) or {}
        if not isinstance(data, dict) or not isinstance(data.get('instances'), list) or not data['instances']:
            raise SystemExit(f'{args.config}: no instances (expected `init_config:` and `instances:`)')
        return data.get('init_config') or {}, data['instances']
    instance: dict[str, Any] = {'openmetrics_endpoint': args.endpoint}
    if args.latency_percentiles is not None:
        instance['latency_percentiles'] = args.latency_percentiles
    return {}, [instance]


def collect() -> dict[str, Any]:
    metrics = []
    for name in sorted(aggregator.metric_names):
        for m in aggregator.metrics(name):
            metrics.append(
                {
                    'metric': m.name,
                    'type': METRIC_TYPES.get(m.type, str(m.type)),
                    'value': m.value,
                    'tags': list(m.tags),
                    'host': m.hostname,
                }
            )
    service_checks = [
        {'check': s.name, 'status': STATUSES.get(s.status, str(s.status)), 'tags': list(s.tags), 'message': s.message}
        for name in sorted(aggregator.service_check_names)
        for s in aggregator.service_checks(name)
    ]
    metadata = {name: value for (_check_id, name), value in sorted(datadog_agent._metadata.items())}
    return {'metrics': metrics, 'service_checks': service_checks, 'metadata': metadata}


def run_instance(init_config: dict, instance: dict, check_rate: bool) -> dict[str, Any]:
    check = NvidiaNIMCheck('nvidia_nim', init_config, [instance])
    check.check_id = 'nvidia_nim:cli'
    runs = 2 if check_rate else 1
    result: dict[str, Any] = {}
    # metadata is shown as the Agent holds it: what the runs set (the version is looked up
    # after the first good scrape, not on every run)
    datadog_agent.reset()
    for i in range(runs):
        if i:
            time.sleep(1)
        aggregator.reset()
        started = time.perf_counter()
        error = check.run()
        elapsed_ms = (time.perf_counter() - started) * 1000
        result = collect()
        result['error'] = json.loads(error)[0]['message'] if error else None
        result['execution_ms'] = round(elapsed_ms, 3)
    result['endpoint'] = instance.get('openmetrics_endpoint')
    return result


def print_table(result: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f'=== nvidia_nim: {result["endpoint"]} ===\n')
    out.write('--- Series ---\n')
    width = max((len(m['metric']) for m in result['metrics']), default=10)
    for m in result['metrics']:
        tags = ','.join(m['tags'])
        host = f' host={m["host"]}' if m['host'] else ''
        out.write(f'{m["metric"]:<{width}}  {m["type"]:<15} {m["value"]:>20.6g}  {tags}{host}\n')
    out.write('--- Service Checks ---\n')
    for s in result['service_checks']:
        message = f'  {s["message"]}' if s['message'] else ''
        out.write(f'{s["check"]}  {s["status"]}  {",".join(s["tags"])}{message}\n')
    out.write('--- Metadata ---\n')
    for name, value in result['metadata'].items():
        out.write(f'{name}: {value}\n')
    status = 'OK' if result['error'] is None else f'ERROR: {result["error"]}'
    out.write(
        f'--- Run: {status}; {len(result["metrics"])} metric samples, '
        f'{len(result["service_checks"])} service checks, {result["execution_ms"]} ms ---\n\n'
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    emulator = None
    if not args.config and not args.endpoint:
        emulator = NimEmulator(models=args.models, dialect=args.dialect).start()
        args.endpoint = emulator.metrics_url
        if not args.json:
            sys.stdout.write(
                f'Started the embedded NIM emulator at {emulator.base_url} '
                f'({args.models} model(s), {args.dialect} dialect)\n\n'
            )
    try:
        init_config, instances = load_config(args)
        results = [run_instance(init_config, instance, args.check_rate) for instance in instances]
    finally:
        if emulator is not None:
            emulator.stop()
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write('\n')
    else:
        for result in results:
            print_table(result)
    return 1 if any(r['error'] is not None for r in results) else 0
