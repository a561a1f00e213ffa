"""A NIM-like HTTP endpoint on loopback, for the demo and the tests.

It serves what an NVIDIA NIM for LLMs 1.x serves, produced by prometheus_client (the library NIM
itself uses): the NIM families with the buckets and labels of a real NIM scrape, for any number of
models, with values that move between scrapes; OpenMetrics when the scraper's Accept asks for it;
`/v1/version` and `/v1/health/ready`.
"""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
E2E_BUCKETS = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
TOKEN_BUCKETS = (
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0,
    2000.0, 5000.0, 10000.0, 20000.0, 50000.0, 100000.0,
)  # fmt: skip
FINISHED_REASONS = ('stop', 'length')
DEFAULT_MODEL = 'meta/llama-3.1-8b-instruct'
VERSION_BODY = {'release': '1.0.0', 'api': '1.0.0'}


def model_names(count: int) -> list[str]:
    if count == 1:
        return [DEFAULT_MODEL]
    return [f'meta/llama-3.1-8b-instruct-{i:03d}' for i in range(count)]


class NimMetrics:
    """The NIM 1.x metric families in their own registry, and a traffic simulation that moves them."""

    def __init__(self, models: int = 1, seed: int = 0):
        self.models = model_names(models)
        self.random = random.Random(seed)
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        r = self.registry
        label = ['model_name']
        self.running = Gauge('num_requests_running', 'Number of requests currently running on GPU.', label, registry=r)
        self.waiting = Gauge('num_requests_waiting', 'Number of requests waiting to be processed.', label, registry=r)
        self.max = Gauge('num_request_max', 'Max number of concurrently running requests.', label, registry=r)
        self.cache = Gauge('gpu_cache_usage_perc', 'GPU KV-cache usage. 1 means 100 percent usage.', label, registry=r)
        self.prompt = Counter('prompt_tokens', 'Number of prefill tokens processed.', label, registry=r)
        self.generation = Counter('generation_tokens', 'Number of generation tokens processed.', label, registry=r)
        self.ttft = Histogram(
            'time_to_first_token_seconds',
            'Histogram of time to first token in seconds.',
            label,
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tpot = Histogram(
            'time_per_output_token_seconds',
            'Histogram of time per output token in seconds.',
            label,
            buckets=TPOT_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            'e2e_request_latency_seconds',
            'Histogram of end to end request latency in seconds.',
            label,
            buckets=E2E_BUCKETS,
            registry=r,
        )
        self.req_prompt = Histogram(
            'request_prompt_tokens', 'Number of prefill tokens processed.', label, buckets=TOKEN_BUCKETS, registry=r
        )
        self.req_generation = Histogram(
            'request_generation_tokens',
            'Number of generation tokens processed.',
            label,
            buckets=TOKEN_BUCKETS,
            registry=r,
        )
        self.finish = Counter(
            'request_finish', 'Number of finished requests.', ['finished_reason', 'model_name'], registry=r
        )
        self.success = Counter('request_success', 'Count of successfully processed requests.', label, registry=r)
        self.failure = Counter('request_failure', 'Count of failed requests.', label, registry=r)
        self.lock = threading.Lock()
        for model in self.models:
            self.max.labels(model).set(64)
            for reason in FINISHED_REASONS:
                self.finish.labels(reason, model)
            self.failure.labels(model)
        self.step()

    def step(self) -> None:
        """Simulates a few requests per model since the last scrape."""
        rnd = self.random
        with self.lock:
            for model in self.models:
                self.running.labels(model).set(rnd.randint(0, 8))
                self.waiting.labels(model).set(rnd.randint(0, 3))
                self.cache.labels(model).set(rnd.random() * 0.5)
                for _ in range(rnd.randint(1, 4)):
                    prompt_tokens = rnd.randint(5, 2000)
                    generated = rnd.randint(1, 500)
                    self.prompt.labels(model).inc(prompt_tokens)
                    self.generation.labels(model).inc(generated)
                    self.ttft.labels(model).observe(rnd.expovariate(1 / 0.08))
                    for _ in range(min(generated, 20)):
                        self.tpot.labels(model).observe(rnd.expovariate(1 / 0.03))
                    self.e2e.labels(model).observe(rnd.expovariate(1 / 3.0))
                    self.req_prompt.labels(model).observe(prompt_tokens)
                    self.req_generation.labels(model).observe(generated)
                    if rnd.random() < 0.05:
                        self.failure.labels(model).inc()
                    else:
                        self.success.labels(model).inc()
                        self.finish.labels(rnd.choice(FINISHED_REASONS), model).inc()

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or '')
        with self.lock:
            return encoder(self.registry), content_type


class NimEmulator:
    """Serves a NIM on 127.0.0.1 in a background thread. Use as a context manager or start/stop.

    `body`/`content_type` replace the live metrics with fixed bytes (for fixtures)."""

    def __init__(
        self,
        models: int = 1,
        seed: int = 0,
        body: bytes | None = None,
        content_type: str = 'text/plain; version=0.0.4; charset=utf-8',
        host: str = '127.0.0.1',
        port: int = 0,
    ):
        self.metrics = NimMetrics(models, seed) if body is None else None
        self.body = body
        self.content_type = content_type
        self.scrapes = 0
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # keep test and demo output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header('Content-Type', content_type)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split('?', 1)[0]
                if path in ('/metrics', '/v1/metrics'):
                    emulator.scrapes += 1
                    if emulator.metrics is None:
                        self._send(200, emulator.body or b'', emulator.content_type)
                    else:
                        if emulator.scrapes > 1:
                            emulator.metrics.step()
                        body, content_type = emulator.metrics.exposition(self.headers.get('Accept'))
                        self._send(200, body, content_type)
                elif path == '/v1/version':
                    self._send(200, json.dumps(VERSION_BODY).encode(), 'application/json')
                elif path == '/v1/health/ready':
                    body = {'object': 'health.response', 'message': 'Service is ready.'}
                    self._send(200, json.dumps(body).encode(), 'application/json')
                else:
                    self._send(404, b'{"detail":"Not Found"}', 'application/json')

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name='nim-emulator', daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f'http://{host}:{port}'

    @property
    def metrics_url(self) -> str:
        return f'{self.base_url}/v1/metrics'

    def start(self) -> NimEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> NimEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
