"""The proof that an installed wheel works, run by the interpreter under test (`scripts/prove-wheels`).

    python prove_run.py FIXTURE_DIR METADATA_CSV [--expect-core | --expect-fallback]

It loads `datadog_checks.nvidia_nim` the way the Agent does (the leaf AgentCheck subclass in
`dir(module)`, built with keyword arguments), scrapes the real NIM 1.x fixture served on loopback
at `/v1/metrics` (with `/v1/version`), twice, then runs the embedded demo (what `python -m
datadog_checks.nvidia_nim` runs: the NIM emulator on loopback, scraped once). It needs only the wheel and its
runtime requirements (no test packages), and prints one JSON line: the submissions of the fixture
scrape (name, type, value, tags: comparable across machines; clock-derived values and the
endpoint's port left out), the NIM 1.x metrics of
metadata.csv that were sent with the type metadata.csv gives, health, version, whether the Rust
core was used, and the demo's exit code. Exit 1 when anything is off.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib
import io
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from datadog_checks.base import AgentCheck
from datadog_checks.base.stubs import aggregator, datadog_agent

AGGREGATOR_TYPES = {0: 'gauge', 1: 'rate', 2: 'count', 3: 'monotonic_count'}
METADATA_TYPES = {'gauge': 'gauge', 'count': 'monotonic_count'}
# `time_elapsed` metrics: seconds since a timestamp of the payload, so they move with the clock
CLOCK_METRICS = {'nvidia_nim.process.start_time_seconds'}


def serve(fixtures: Path) -> ThreadingHTTPServer:
    routes = {
        '/v1/metrics': (fixtures / 'nim_metrics.txt').read_bytes(),
        '/v1/version': (fixtures / 'nim_version.json').read_bytes(),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
            self.send_header('Content-Length', str(len(body or b'')))
            self.end_headers()
            self.wfile.write(body or b'')

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def agent_check_class(module):
    """The class the Agent's loader takes: the first attribute in `dir(module)` that is a strict
    subclass of AgentCheck with no subclass of its own."""
    for name in dir(module):
        attr = getattr(module, name)
        if isinstance(attr, type) and issubclass(attr, AgentCheck) and attr is not AgentCheck:
            if not attr.__subclasses__():
                return attr
    raise SystemExit('no AgentCheck subclass in datadog_checks.nvidia_nim')


def nim1_metadata_rows(metadata_csv: Path, nim1_names: set[str]) -> dict[str, str]:
    """metadata.csv's rows for the NIM 1.x map's Datadog names (`<name>`, `.count`, `.sum`, `.bucket`)."""
    with metadata_csv.open(newline='') as f:
        rows = {row['metric_name']: row['metric_type'] for row in csv.DictReader(f)}
    wanted = {f'nvidia_nim.{name}{suffix}' for name in nim1_names for suffix in ('', '.count', '.sum', '.bucket')}
    return {name: kind for name, kind in rows.items() if name in wanted}


def scrape_fixture(fixtures: Path) -> dict:
    module = importlib.import_module('datadog_checks.nvidia_nim')
    cls = agent_check_class(module)
    server = serve(fixtures)
    url = f'http://127.0.0.1:{server.server_address[1]}/v1/metrics'
    check = cls(name='nvidia_nim', init_config={}, instances=[{'openmetrics_endpoint': url}])
    check.check_id = 'nvidia_nim:proof'
    started = time.perf_counter()
    results = [check.run() for _ in range(2)]
    elapsed = time.perf_counter() - started
    server.shutdown()
    submissions = sorted(
        (
            m.name,
            AGGREGATOR_TYPES.get(m.type, str(m.type)),
            'clock' if m.name in CLOCK_METRICS else repr(m.value),
            sorted('endpoint:URL' if t.startswith('endpoint:') else t for t in m.tags),
        )
        for name in aggregator.metric_names
        for m in aggregator.metrics(name)
    )
    return {
        'check_class': f'{cls.__module__}.{cls.__name__}',
        'run_results': results,
        'two_runs_seconds': round(elapsed, 3),
        'submissions': submissions,
        'health': [s.status for s in aggregator.service_checks('nvidia_nim.openmetrics.health')],
        'version': datadog_agent._metadata.get(('nvidia_nim:proof', 'version.raw')),
    }


def run_demo() -> int:
    """The embedded demo, as `python -m datadog_checks.nvidia_nim` runs it (in this process, so that
    it also works under qemu-user without binfmt_misc); its exit code."""
    from datadog_checks.nvidia_nim.cli import main as demo

    with contextlib.redirect_stdout(io.StringIO()):
        return demo([])


def main(argv: list[str]) -> int:
    fixtures, metadata_csv = Path(argv[0]), Path(argv[1])
    expectation = argv[2] if len(argv) > 2 else '--expect-core'
    from datadog_checks.nvidia_nim.metrics import METRIC_MAP
    from datadog_checks.nvidia_nim.native import CORE_ERROR

    scrape = scrape_fixture(fixtures)
    expected = nim1_metadata_rows(metadata_csv, {v if isinstance(v, str) else v['name'] for v in METRIC_MAP.values()})
    sent_types = {}
    for name, kind, _, _ in scrape['submissions']:
        sent_types.setdefault(name, set()).add(kind)
    nim1_sent = sorted(n for n, kind in expected.items() if sent_types.get(n) == {METADATA_TYPES[kind]})
    digest = hashlib.sha256(json.dumps(scrape['submissions']).encode()).hexdigest()[:16]
    report = {
        'python': sys.version.split()[0],
        'core_loaded': CORE_ERROR is None,
        'check_class': scrape['check_class'],
        'run_results': scrape['run_results'],
        'two_runs_seconds': scrape['two_runs_seconds'],
        'submission_count': len(scrape['submissions']),
        'submissions_sha256': digest,
        'nim1_metadata_metrics_sent': len(nim1_sent),
        'nim1_metadata_metrics': len(expected),
        'health': scrape['health'],
        'version': scrape['version'],
        'demo_exit': run_demo(),
    }
    print(json.dumps(report))
    ok = (
        report['core_loaded'] == (expectation == '--expect-core')
        and report['run_results'] == ['', '']
        and report['nim1_metadata_metrics_sent'] == report['nim1_metadata_metrics'] > 0
        and report['health'] == [0, 0]
        and report['version'] == '1.0.0'
        and report['demo_exit'] == 0
    )
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
