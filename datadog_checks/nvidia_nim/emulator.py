"""A NIM-like HTTP endpoint on loopback, for the demo and the tests.

It serves what an NVIDIA NIM for LLMs serves, produced by prometheus_client (the library NIM and
its engines use), in one of three dialects:

* `nim1`: NIM for LLMs 1.x, the unprefixed families with the buckets and labels of a real NIM scrape;
* `vllm`: NIM 2.x passing the vLLM V1 engine's metrics through (`vllm:` names, labels `model_name`,
  `engine`, and `finished_reason` on `vllm:request_success_total`; both the old and the renamed
  KV-cache gauge and inter-token latency histogram, as vLLM 0.10 and 0.11 expose them);
* `sglang`: NIM 2.x passing SGLang's metrics through (`sglang:` names, labels `model_name`,
  `engine_type`, `tp_rank`, `pp_rank`).

Any number of models, with values that move between scrapes; OpenMetrics when the scraper's
Accept asks for it; `/v1/version` and `/v1/health/ready`.
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
NIM2_VERSION_BODY = {'release': '2.0.0', 'api': '1.0.0'}
DIALECTS = ('nim1', 'vllm', 'sglang')

# vLLM V1's bucket layouts
VLLM_TTFT_BUCKETS = TTFT_BUCKETS + (20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_ITL_BUCKETS = TPOT_BUCKETS + (5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
VLLM_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
VLLM_TOKEN_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)  # 1-2-5 up to max_model_len 8192
VLLM_ITERATION_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
VLLM_FINISHED_REASONS = ('stop', 'length', 'abort')
# SGLang's bucket layouts
SGLANG_TTFT_BUCKETS = (0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400)
SGLANG_ITL_BUCKETS = (
    0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1,
    0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0,
)  # fmt: skip
SGLANG_E2E_BUCKETS = (0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400)
SGLANG_QUEUE_BUCKETS = (0.0, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300)
SGLANG_TOKEN_BUCKETS = (100, 300, 500, 700, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000)


def model_names(count: int) -> list[str]:
    if count == 1:
        return [DEFAULT_MODEL]
    return [f'meta/llama-3.1-8b-instruct-{i:03d}' for i in range(count)]


def nim_metrics(dialect: str = 'nim1', models: int = 1, seed: int = 0) -> NimMetrics:
    """The metric families of a NIM of the given dialect (`nim1`, `vllm`, `sglang`)."""
    classes = {'nim1': NimMetrics, 'vllm': VllmMetrics, 'sglang': SglangMetrics}
    if dialect not in classes:
        raise ValueError(f'unknown NIM dialect {dialect!r}: expected one of {", ".join(DIALECTS)}')
    return classes[dialect](models, seed)


def metric_factories(registry: CollectorRegistry, labels: list[str]):
    """Gauge, counter and histogram constructors for one registry and one set of label names."""

    def gauge(name, doc):
        return Gauge(name, doc, labels, registry=registry)

    def counter(name, doc):
        return Counter(name, doc, labels, registry=registry)

    def histogram(name, doc, buckets):
        return Histogram(name, doc, labels, buckets=buckets, registry=registry)

    return gauge, counter, histogram


class NimMetrics:
    """The NIM 1.x metric families in their own registry, and a traffic simulation that moves them."""

    dialect = 'nim1'
    version_body = VERSION_BODY

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


class _EngineMetrics(NimMetrics):
    """A NIM 2.x: the engine's own families, plus the process and Python collectors."""

    version_body = NIM2_VERSION_BODY

    def __init__(self, models: int = 1, seed: int = 0):
        self.models = model_names(models)
        self.random = random.Random(seed)
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.lock = threading.Lock()
        self.define(self.registry)
        self.step()

    def define(self, r: CollectorRegistry) -> None:
        raise NotImplementedError

    def request(self) -> dict:
        """One simulated request's figures."""
        rnd = self.random
        generated = rnd.randint(1, 500)
        return {
            'prompt': rnd.randint(5, 2000),
            'generated': generated,
            'ttft': rnd.expovariate(1 / 0.08),
            'itl': [rnd.expovariate(1 / 0.03) for _ in range(min(generated, 20))],
            'e2e': rnd.expovariate(1 / 3.0),
            'queue': rnd.expovariate(1 / 0.2),
            'cached': rnd.randint(0, 512),
        }


class VllmMetrics(_EngineMetrics):
    """NIM 2.x with vLLM V1: `vllm:` families labelled `model_name` and `engine`."""

    dialect = 'vllm'

    def define(self, r: CollectorRegistry) -> None:
        label = ['model_name', 'engine']

        gauge, counter, histogram = metric_factories(r, label)

        self.running = gauge('vllm:num_requests_running', 'Number of requests in model execution batches.')
        self.waiting = gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.')
        self.gpu_cache = gauge('vllm:gpu_cache_usage_perc', 'GPU KV-cache usage (the name before vLLM 0.9).')
        self.kv_cache = gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.')
        self.prefix_queries = counter('vllm:prefix_cache_queries', 'Prefix cache queries, in tokens.')
        self.prefix_hits = counter('vllm:prefix_cache_hits', 'Prefix cache hits, in tokens.')
        self.preemptions = counter('vllm:num_preemptions', 'Cumulative number of preemptions.')
        self.prompt = counter('vllm:prompt_tokens', 'Number of prefill tokens processed.')
        self.generation = counter('vllm:generation_tokens', 'Number of generation tokens processed.')
        self.success = Counter(
            'vllm:request_success', 'Count of successfully processed requests.', label + ['finished_reason'], registry=r
        )
        self.req_prompt = histogram(
            'vllm:request_prompt_tokens', 'Number of prefill tokens processed.', VLLM_TOKEN_BUCKETS
        )
        self.req_generation = histogram(
            'vllm:request_generation_tokens', 'Number of generation tokens processed.', VLLM_TOKEN_BUCKETS
        )
        self.iteration = histogram(
            'vllm:iteration_tokens_total', 'Histogram of number of tokens per engine_step.', VLLM_ITERATION_BUCKETS
        )
        self.max_generation = histogram(
            'vllm:request_max_num_generation_tokens',
            'Maximum number of requested generation tokens.',
            VLLM_TOKEN_BUCKETS,
        )
        self.params_n = histogram('vllm:request_params_n', 'Histogram of the n request parameter.', (1, 2, 5, 10, 20))
        self.params_max_tokens = histogram(
            'vllm:request_params_max_tokens', 'Histogram of the max_tokens request parameter.', VLLM_TOKEN_BUCKETS
        )
        self.ttft = histogram('vllm:time_to_first_token_seconds', 'Time to first token in seconds.', VLLM_TTFT_BUCKETS)
        self.tpot = histogram(
            'vllm:time_per_output_token_seconds', 'Time per output token (the name before vLLM 0.11).', VLLM_ITL_BUCKETS
        )
        self.itl = histogram('vllm:inter_token_latency_seconds', 'Inter-token latency in seconds.', VLLM_ITL_BUCKETS)
        self.req_tpot = histogram(
            'vllm:request_time_per_output_token_seconds', 'Time per output token, per request.', VLLM_ITL_BUCKETS
        )
        self.e2e = histogram(
            'vllm:e2e_request_latency_seconds', 'e2e request latency in seconds.', VLLM_LATENCY_BUCKETS
        )
        self.queue = histogram('vllm:request_queue_time_seconds', 'Time spent in WAITING phase.', VLLM_LATENCY_BUCKETS)
        self.inference = histogram(
            'vllm:request_inference_time_seconds', 'Time spent in RUNNING phase.', VLLM_LATENCY_BUCKETS
        )
        self.prefill = histogram(
            'vllm:request_prefill_time_seconds', 'Time spent in PREFILL phase.', VLLM_LATENCY_BUCKETS
        )
        self.decode = histogram('vllm:request_decode_time_seconds', 'Time spent in DECODE phase.', VLLM_LATENCY_BUCKETS)
        for model in self.models:
            for reason in VLLM_FINISHED_REASONS:
                self.success.labels(model, '0', reason)
            self.preemptions.labels(model, '0')

    def step(self) -> None:
        rnd = self.random
        with self.lock:
            for model in self.models:
                engine = (model, '0')
                self.running.labels(*engine).set(rnd.randint(0, 8))
                self.waiting.labels(*engine).set(rnd.randint(0, 3))
                usage = rnd.random() * 0.5
                self.gpu_cache.labels(*engine).set(usage)
                self.kv_cache.labels(*engine).set(usage)
                for _ in range(rnd.randint(1, 4)):
                    req = self.request()
                    self.prompt.labels(*engine).inc(req['prompt'])
                    self.generation.labels(*engine).inc(req['generated'])
                    self.prefix_queries.labels(*engine).inc(req['prompt'])
                    self.prefix_hits.labels(*engine).inc(min(req['cached'], req['prompt']))
                    self.iteration.labels(*engine).observe(req['prompt'] + req['generated'])
                    self.ttft.labels(*engine).observe(req['ttft'])
                    for itl in req['itl']:
                        # vLLM 0.10 and 0.11 observe every inter-token latency under both names
                        self.tpot.labels(*engine).observe(itl)
                        self.itl.labels(*engine).observe(itl)
                    self.req_tpot.labels(*engine).observe(sum(req['itl']) / len(req['itl']))
                    self.e2e.labels(*engine).observe(req['e2e'])
                    self.queue.labels(*engine).observe(req['queue'])
                    self.prefill.labels(*engine).observe(req['ttft'])
                    self.decode.labels(*engine).observe(sum(req['itl']))
                    self.inference.labels(*engine).observe(req['ttft'] + sum(req['itl']))
                    self.req_prompt.labels(*engine).observe(req['prompt'])
                    self.req_generation.labels(*engine).observe(req['generated'])
                    self.max_generation.labels(*engine).observe(512)
                    self.params_n.labels(*engine).observe(1)
                    self.params_max_tokens.labels(*engine).observe(512)
                    if rnd.random() < 0.05:
                        self.preemptions.labels(*engine).inc()
                    self.success.labels(model, '0', rnd.choice(VLLM_FINISHED_REASONS)).inc()


class SglangMetrics(_EngineMetrics):
    """NIM 2.x with SGLang: `sglang:` families labelled `model_name`, `engine_type`, `tp_rank`,
    `pp_rank`."""

    dialect = 'sglang'

    def define(self, r: CollectorRegistry) -> None:
        label = ['model_name', 'engine_type', 'tp_rank', 'pp_rank']

        gauge, counter, histogram = metric_factories(r, label)

        self.running = gauge('sglang:num_running_reqs', 'The number of running requests.')
        self.queued = gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.')
        self.token_usage = gauge('sglang:token_usage', 'The token usage.')
        self.used_tokens = gauge('sglang:num_used_tokens', 'The number of used tokens.')
        self.throughput = gauge('sglang:gen_throughput', 'The generation throughput (token/s).')
        self.hit_rate = gauge('sglang:cache_hit_rate', 'The prefix cache hit rate.')
        self.prompt = counter('sglang:prompt_tokens_total', 'Number of prefill tokens processed.')
        self.generation = counter('sglang:generation_tokens_total', 'Number of generation tokens processed.')
        self.cached = Counter(
            'sglang:cached_tokens_total',
            'Number of cached prompt tokens by source.',
            label + ['cache_source'],
            registry=r,
        )
        self.requests = counter('sglang:num_requests_total', 'Number of requests processed.')
        self.aborted = counter('sglang:num_aborted_requests_total', 'Number of requests aborted.')
        self.retracted = counter('sglang:num_retracted_requests_total', 'Total number of retracted requests.')
        self.ttft = histogram(
            'sglang:time_to_first_token_seconds', 'Time to first token in seconds.', SGLANG_TTFT_BUCKETS
        )
        self.itl = histogram(
            'sglang:inter_token_latency_seconds', 'Inter-token latency in seconds.', SGLANG_ITL_BUCKETS
        )
        self.e2e = histogram('sglang:e2e_request_latency_seconds', 'End-to-end request latency.', SGLANG_E2E_BUCKETS)
        self.queue = histogram('sglang:queue_time_seconds', 'Queueing time in seconds.', SGLANG_QUEUE_BUCKETS)
        self.req_prompt = histogram('sglang:prompt_tokens_histogram', 'Prompt token length.', SGLANG_TOKEN_BUCKETS)
        self.req_generation = histogram(
            'sglang:generation_tokens_histogram', 'Generation token length.', SGLANG_TOKEN_BUCKETS
        )
        for model in self.models:
            engine = self.engine(model)
            self.aborted.labels(*engine)
            self.retracted.labels(*engine)

    @staticmethod
    def engine(model: str) -> tuple[str, str, str, str]:
        return (model, 'unified', '0', '0')

    def step(self) -> None:
        rnd = self.random
        with self.lock:
            for model in self.models:
                engine = self.engine(model)
                self.running.labels(*engine).set(rnd.randint(0, 8))
                self.queued.labels(*engine).set(rnd.randint(0, 3))
                usage = rnd.random() * 0.5
                self.token_usage.labels(*engine).set(usage)
                self.used_tokens.labels(*engine).set(int(usage * 100000))
                self.throughput.labels(*engine).set(rnd.uniform(50, 500))
                self.hit_rate.labels(*engine).set(rnd.random())
                for _ in range(rnd.randint(1, 4)):
                    req = self.request()
                    self.prompt.labels(*engine).inc(req['prompt'])
                    self.generation.labels(*engine).inc(req['generated'])
                    self.cached.labels(*engine, 'device').inc(min(req['cached'], req['prompt']))
                    self.ttft.labels(*engine).observe(req['ttft'])
                    for itl in req['itl']:
                        self.itl.labels(*engine).observe(itl)
                    self.e2e.labels(*engine).observe(req['e2e'])
                    self.queue.labels(*engine).observe(req['queue'])
                    self.req_prompt.labels(*engine).observe(req['prompt'])
                    self.req_generation.labels(*engine).observe(req['generated'])
                    if rnd.random() < 0.05:
                        self.aborted.labels(*engine).inc()
                    else:
                        self.requests.labels(*engine).inc()
                    if rnd.random() < 0.05:
                        self.retracted.labels(*engine).inc()


class NimEmulator:
    """Serves a NIM on 127.0.0.1 in a background thread. Use as a context manager or start/stop.

    `dialect` picks what it serves (`nim1`, `vllm`, `sglang`, see the module docstring);
    `body`/`content_type` replace the live metrics with fixed bytes (for fixtures)."""

    def __init__(
        self,
        models: int = 1,
        seed: int = 0,
        body: bytes | None = None,
        content_type: str = 'text/plain; version=0.0.4; charset=utf-8',
        host: str = '127.0.0.1',
        port: int = 0,
        dialect: str = 'nim1',
    ):
        self.metrics = nim_metrics(dialect, models, seed) if body is None else None
        self.dialect = dialect
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
                    version = VERSION_BODY if emulator.metrics is None else emulator.metrics.version_body
                    self._send(200, json.dumps(version).encode(), 'application/json')
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
