"""Shared test helpers: a loopback server for fixed payloads, the stock check configured as the
integration we replace, and snapshots of what the stub aggregator recorded."""

from __future__ import annotations

import datetime
import ipaddress
import json
import math
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from datadog_checks.base import AgentCheck, OpenMetricsBaseCheckV2
from datadog_checks.nvidia_nim.metrics import METRIC_MAP, RENAME_LABELS_MAP

HERE = Path(__file__).parent
FIXTURES = HERE / 'fixtures'
PROJECT_ROOT = HERE.parent
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
        tls: ssl.SSLContext | None = None,
    ):
        self.body = body
        self.content_type = content_type
        self.status = status
        self.extra_headers: dict[str, str] = {}
        self.version_body = fixture_bytes('nim_version.json')
        self.requests: list[tuple[str, dict[str, str]]] = []
        # (path, client port) of each request: which connection it came on
        self.peers: list[tuple[str, int]] = []
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
                server.peers.append((self.path, self.client_address[1]))
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
        if tls is not None:  # a server-side context (TLSFiles.server_context): serve HTTPS
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
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
        # the wall-clock window in which these were submitted (conftest.stamp_aggregator_resets)
        'clock': (aggregator.reset_at, time.time()),
    }


def assert_same_submissions(stock: dict, ours: dict, clock_metrics=CLOCK_METRICS) -> None:
    """Identical records, and identical HTTP requests when the snapshots hold them. A clock-derived
    value (`time_elapsed`: the submission time minus a timestamp of the payload) is compared
    through the clock of each run: both must come from one payload timestamp with each submission
    inside its own snapshot's window."""
    for name in clock_metrics:
        s = stock['metrics'].get(name, [])
        o = ours['metrics'].get(name, [])
        assert len(s) == len(o), name
        for a, b in zip(s, o, strict=False):
            assert a._replace(value=0) == b._replace(value=0)
            assert_same_clock_origin(a.value, stock['clock'], b.value, ours['clock'])
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


def assert_same_clock_origin(stock_value: float, stock_clock, our_value: float, our_clock) -> None:
    """`value = submission time - origin`, the submission time inside the clock window
    (start, end) of its run: the origins both values allow must overlap. The windows are widened
    by a few units in the last place of a timestamp, the precision of the subtraction."""
    ulps = 4 * math.ulp(max(stock_clock[1], our_clock[1]))
    stock_origins = (stock_clock[0] - stock_value - ulps, stock_clock[1] - stock_value + ulps)
    our_origins = (our_clock[0] - our_value - ulps, our_clock[1] - our_value + ulps)
    assert max(stock_origins[0], our_origins[0]) <= min(stock_origins[1], our_origins[1]), (
        f'no common origin: stock {stock_value} in {stock_clock}, ours {our_value} in {our_clock}'
    )


def map_metadata(metadata: dict, metric_map: dict) -> dict:
    """The metadata.csv rows of a metric map's Datadog names (`<name>`, `.count`, `.sum`, `.bucket`):
    with the stock `METRIC_MAP`, what a NIM 1.x sends."""
    names = {v if isinstance(v, str) else v['name'] for v in metric_map.values()}
    suffixes = ('', '.count', '.sum', '.bucket')
    return {m: row for m, row in metadata.items() if any(m == f'nvidia_nim.{n}{s}' for n in names for s in suffixes)}


def run_error(result: str) -> str | None:
    """The message of a run() result, or None for success."""
    if not result:
        return None
    return json.loads(result)[0]['message']


# --- reliability helpers -----------------------------------------------------------------------


def health_checks(aggregator) -> list[tuple[int, str]]:
    """(status, message) of every `nvidia_nim.openmetrics.health` service check, in order."""
    return [(s.status, s.message) for s in aggregator.service_checks('nvidia_nim.openmetrics.health')]


def submitted_count(aggregator) -> int:
    """How many metric and histogram bucket records the stub holds."""
    metrics = sum(len(aggregator.metrics(name)) for name in aggregator.metric_names)
    buckets = sum(len(aggregator.histogram_bucket(name)) for name in aggregator._histogram_buckets)
    return metrics + buckets


def without_addresses(text: str | None) -> str | None:
    """Error text with object reprs' memory addresses (`at 0x7f...`) blanked, for comparing runs."""
    return None if text is None else re.sub(r' at 0x[0-9a-f]+', ' at 0x?', text)


def http_response(body: bytes, status: str = '200 OK', content_type: str | None = PROM_CONTENT_TYPE, **headers):
    """A whole HTTP/1.1 response (headers given as keyword arguments, `_` for `-`)."""
    lines = [f'HTTP/1.1 {status}']
    if content_type is not None:
        lines.append(f'Content-Type: {content_type}')
    fields = {'Content-Length': str(len(body)), 'Connection': 'close'}
    fields.update({k.replace('_', '-'): v for k, v in headers.items()})
    lines += [f'{k}: {v}' for k, v in fields.items() if v is not None]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


class RawServer:
    """A loopback TCP server that writes whatever `respond(conn, path)` writes, for what
    http.server cannot send: a body cut short, a garbage status line, a stall, a slow drip.
    `/v1/version` answers the NIM version JSON. The listener can be closed (connections refused)
    and reopened on the same port, or left with a full accept backlog (connects time out)."""

    def __init__(self, respond=None):
        self.respond = respond or (lambda conn, path: conn.sendall(http_response(b'')))
        self.version_body = fixture_bytes('nim_version.json')
        self.paths: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fillers: list[socket.socket] = []
        self.listener: socket.socket | None = self._listen(0, backlog=64)
        self.port = self.listener.getsockname()[1]
        self._accepting = True
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _listen(port: int, backlog: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', port))
        sock.listen(backlog)
        return sock

    @property
    def base_url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def refuse(self) -> None:
        """Close the listener: connections are refused until `reopen()`."""
        with self._lock:
            self._close_listener()
        time.sleep(0.1)

    def stall_connects(self) -> None:
        """A listener with a backlog of 0 that is never accepted from, filled up: a new connection's
        SYN is dropped and its connect times out, until `reopen()`."""
        with self._lock:
            self._close_listener()
            self.listener = self._listen(self.port, backlog=0)
            self._accepting = False
            for _ in range(4):
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                filler.setblocking(False)
                try:
                    filler.connect(('127.0.0.1', self.port))
                except BlockingIOError:
                    pass
                self._fillers.append(filler)
        time.sleep(0.2)

    def reopen(self) -> None:
        with self._lock:
            self._close_listener()
            self.listener = self._listen(self.port, backlog=64)
            self._accepting = True

    def _close_listener(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        if self.listener is not None:
            # shutdown() stops listening at once, even while the accept loop's select() holds it
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self.listener if self._accepting else None
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                conn, _ = listener.accept()
            except (OSError, ValueError):  # closed by refuse()/reopen() meanwhile
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            head = b''
            while b'\r\n\r\n' not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            path = head.split(b'\r\n', 1)[0].split(b' ')[1].decode('latin-1')
            if path.split('?')[0].endswith('/v1/version'):
                conn.sendall(http_response(self.version_body, content_type='application/json'))
            else:
                self.paths.append(path)
                self.respond(conn, path)
        except OSError:
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def wait(self, seconds: float) -> None:
        """Sleep in a handler, cut short when the server stops."""
        self._stop.wait(seconds)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(5)
        with self._lock:
            self._close_listener()


class TLSFiles:
    """A self-signed CA, a server certificate for `server_hosts` (IP addresses or DNS names) and a
    client certificate it signed (its key encrypted with `key_password`, if given), written as PEM
    files to `directory`."""

    def __init__(
        self,
        directory: Path,
        key_password: bytes | None = None,
        server_hosts: tuple[str, ...] = ('localhost', '127.0.0.1'),
    ):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.UTC)

        def name(cn):
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        def write(filename, data):
            path = directory / filename
            path.write_bytes(data)
            return str(path)

        def pem_key(key, password=None):
            encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(name('nvidia_nim test CA'))
            .issuer_name(name('nvidia_nim test CA'))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )

        def leaf(cn, usage, san=None):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(name(cn))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            )
            if san is not None:
                builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            return key, builder.sign(ca_key, hashes.SHA256())

        def host_name(host):
            try:
                return x509.IPAddress(ipaddress.ip_address(host))
            except ValueError:
                return x509.DNSName(host)

        server_key, server_cert = leaf(
            server_hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, [host_name(h) for h in server_hosts]
        )
        client_key, client_cert = leaf('nim-client', ExtendedKeyUsageOID.CLIENT_AUTH)
        pem = serialization.Encoding.PEM
        self.ca_cert = write('ca.pem', ca.public_bytes(pem))
        self.server_cert = write('server.pem', server_cert.public_bytes(pem))
        self.server_key = write('server.key', pem_key(server_key))
        self.client_cert = write('client.pem', client_cert.public_bytes(pem))
        self.client_key = write('client.key', pem_key(client_key, key_password))

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca_cert)
        return context


def run_python(code: str, timeout: float = 120) -> dict:
    """Runs `code` in a fresh interpreter (the test directory on sys.path) and returns the JSON
    object it printed last; for payloads whose time or memory must not weigh on the test process."""
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(HERE), os.environ.get('PYTHONPATH', '')])}
    proc = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
