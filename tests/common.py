"""Shared test helpers: a loopback server for fixed payloads, the stock check configured as the
integration we replace, and snapshots of what the stub aggregator recorded."""

from __future__ import annotations

import json
import math
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from datadog_checks.base import AgentCheck, OpenMetricsBaseCheckV2
from datadog_checks.nvidia_nim.metrics import METRIC_MAP, RENAME_LABELS_MAP

HERE = Path(__file__).parent
FIXTURES = HERE / 'fixtures'
PROJECT_ROOT = HERE.parent
SHARED = PROJECT_ROOT.parent / 'shared'
PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
OM_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'
CONFIG_MODELS = 'datadog_checks.nvidia_nim.config_models'
# Metrics whose value depends on the clock at submission time.
CLOCK_METRICS = {'nvidia_nim.process.start_time_seconds'}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class PayloadServer:
    """Serves `body` with `content_type` (and other headers) at any path but `/v1/version`, which
    answers the NIM version JSON. `body`, `status` and `headers` can be changed between requests."""

    def __init__(
        self,
        body: bytes = b'',
        content_type: str = PROM_CONTENT_TYPE,
        status: int = 200,
        tls: tuple[str, str] | None = None,
    ):
        self.body = body
        self.content_type = content_type
        self.status = status
        self.extra_headers: dict[str, str] = {}
        self.version_body = fixture_bytes('nim_version.json')
        self.requests: list[tuple[str, dict[str, str]]] = []
        # seconds to wait before answering; path -> Location of a 302 answer
        self.delay = 0.0
        self.redirects: dict[str, str] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                if server.delay:
                    time.sleep(server.delay)
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header('Location', server.redirects[self.path])
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if self.path.split('?')[0].endswith('/v1/version'):
                    status, body, ctype = 200, server.version_body, 'application/json'
                else:
                    status, body, ctype = server.status, server.body, server.content_type
                self.send_response(status)
                if ctype is not None:
                    self.send_header('Content-Type', ctype)
                for k, v in server.extra_headers.items():
                    self.send_header(k, v)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.scheme = 'http'
        if tls is not None:  # (certificate file, key file): serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = 'https'
        self.httpd.daemon_threads = True
        # a short poll interval: shutdown() waits for the serving loop to notice
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def base_url(self) -> str:
        return f'{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}'

    def __enter__(self) -> PayloadServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StockNvidiaNIMCheck(OpenMetricsBaseCheckV2):
    """The integration we replace, as it ships: OpenMetricsBaseCheckV2 with the nvidia_nim defaults
    and its version metadata (a `/metrics` → `/v1/version` string replace; errors fail the run)."""

    __NAMESPACE__ = 'nvidia_nim'
    DEFAULT_METRIC_LIMIT = 0

    def get_default_config(self):
        return {'metrics': [METRIC_MAP], 'rename_labels': dict(RENAME_LABELS_MAP)}

    def load_configuration_models(self, package_path=None):
        # The integration validates its configuration against its config models at the first run.
        # AgentCheck looks for them next to the check class (here the test module, which has
        # none); ours declare the same options with the same types (test_config.py).
        super().load_configuration_models(CONFIG_MODELS)

    def check(self, instance):
        super().check(instance)
        self._submit_version_metadata()

    @AgentCheck.metadata_entrypoint
    def _submit_version_metadata(self):
        endpoint = self.instance['openmetrics_endpoint'].replace('/metrics', '/v1/version')
        response = self.http.get(endpoint)
        response.raise_for_status()
        version = response.json().get('release', '')
        parts = version.split('.')
        if len(parts) >= 3:
            major, minor, patch = parts[:3]
            self.set_metadata(
                'version',
                f'{major}.{minor}.{patch}',
                scheme='semver',
                part_map={'major': major, 'minor': minor, 'patch': patch},
            )


def snapshot(aggregator, datadog_agent) -> dict:
    """Everything the stub recorded: per name in submission order."""
    return {
        'metrics': {name: list(aggregator.metrics(name)) for name in aggregator.metric_names},
        'service_checks': {n: list(aggregator.service_checks(n)) for n in aggregator.service_check_names},
        'buckets': [b for name in sorted(aggregator._histogram_buckets) for b in aggregator.histogram_bucket(name)],
        'metadata': dict(datadog_agent._metadata),
        'reported_issues': dict(datadog_agent._sent_reported_issues),
        'resolved_issues': list(datadog_agent._sent_resolved_issues),
    }


def assert_same_submissions(stock: dict, ours: dict, clock_metrics=CLOCK_METRICS) -> None:
    """Identical records (clock-derived values within a few seconds), and identical HTTP requests
    when the snapshots hold them."""
    for name in clock_metrics:
        s = stock['metrics'].get(name, [])
        o = ours['metrics'].get(name, [])
        assert len(s) == len(o), name
        for a, b in zip(s, o, strict=False):
            assert math.isclose(a.value, b.value, abs_tol=5.0), (a, b)
            assert a._replace(value=0) == b._replace(value=0)
    strip = {k: v for k, v in stock['metrics'].items() if k not in clock_metrics}
    ostrip = {k: v for k, v in ours['metrics'].items() if k not in clock_metrics}
    assert sorted(strip) == sorted(ostrip)  # per-name order is compared below; across names it is not observable
    for name in strip:
        assert strip[name] == ostrip[name], name
    assert stock['service_checks'] == ours['service_checks']
    assert stock['buckets'] == ours['buckets']
    assert stock['metadata'] == ours['metadata']
    assert stock['reported_issues'] == ours['reported_issues']
    assert stock['resolved_issues'] == ours['resolved_issues']
    assert stock['warnings'] == ours['warnings']
    assert stock.get('requests') == ours.get('requests')


def run_error(result: str) -> str | None:
    """The message of a run() result, or None for success."""
    if not result:
        return None
    return json.loads(result)[0]['message']


def self_signed_certificate(directory: Path, hosts: tuple[str, ...] = ('127.0.0.1',)) -> tuple[str, str]:
    """A self-signed server certificate for these IP addresses, and its key: (cert file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'nim-test')])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(h)) for h in hosts]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / 'server.pem', directory / 'server.key'
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)
