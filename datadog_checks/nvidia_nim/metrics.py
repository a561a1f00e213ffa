"""The default metric map: NIM's exposed family names → Datadog names (before `nvidia_nim.`).

`METRIC_MAP` is the stock integration's map: the NIM for LLMs 1.x names. `NIM2_METRIC_MAP` adds
what a NIM 2.x exposes when it passes its engine's own metrics through: vLLM V1 (`vllm:` names)
or SGLang (`sglang:` names). The families every dialect has arrive under the 1.x Datadog names;
the engine-only families get names of their own. A 1.x NIM exposes none of the 2.x names, so the
2.x entries change nothing for it.

Counter families are named without `_total` (the parsers strip it), histogram families keep
their exposed name (`vllm:iteration_tokens_total` is a histogram). Every entry is `native`: the
submission follows the exposed type, as in the stock map.
"""

METRIC_MAP = {
    'process_virtual_memory_bytes': 'process.virtual_memory_bytes',
    'process_resident_memory_bytes': 'process.resident_memory_bytes',
    'process_start_time_seconds': {
        'name': 'process.start_time_seconds',
        'type': 'time_elapsed',
    },
    'process_cpu_seconds': 'process.cpu_seconds',
    'process_open_fds': 'process.open_fds',
    'process_max_fds': 'process.max_fds',
    'python_gc_objects_collected': 'python.gc.objects.collected',
    'python_gc_objects_uncollectable': 'python.gc.objects.uncollectable',
    'python_gc_collections': 'python.gc.collections',
    'python_info': 'python.info',
    'num_requests_running': 'num_requests.running',
    'num_requests_waiting': 'num_requests.waiting',
    'num_request_max': 'num_request.max',
    'gpu_cache_usage_perc': 'gpu_cache_usage_percent',
    'prompt_tokens': 'prompt_tokens',
    'generation_tokens': 'generation_tokens',
    'time_to_first_token_seconds': 'time_to_first_token.seconds',
    'time_per_output_token_seconds': 'time_per_output_token.seconds',
    'e2e_request_latency_seconds': 'e2e_request_latency.seconds',
    'request_prompt_tokens': 'request.prompt_tokens',
    'request_generation_tokens': 'request.generation_tokens',
    'request_finish': 'request.finish',
    'request_success': 'request.success',
    'request_failure': 'request.failure',
}

# NIM 2.x with the vLLM V1 engine. Labels: `model_name`, `engine` (engine index), and
# `finished_reason` on `vllm:request_success`.
VLLM_METRIC_MAP = {
    # the families a 1.x NIM has too
    'vllm:num_requests_running': 'num_requests.running',
    'vllm:num_requests_waiting': 'num_requests.waiting',
    # `gpu_cache_usage_perc` was renamed `kv_cache_usage_perc` (vLLM 0.9); versions that expose
    # both set them to the same value
    'vllm:gpu_cache_usage_perc': 'gpu_cache_usage_percent',
    'vllm:kv_cache_usage_perc': 'gpu_cache_usage_percent',
    'vllm:prompt_tokens': 'prompt_tokens',
    'vllm:generation_tokens': 'generation_tokens',
    'vllm:time_to_first_token_seconds': 'time_to_first_token.seconds',
    # `time_per_output_token_seconds` was renamed `inter_token_latency_seconds` (vLLM 0.11);
    # versions that expose both observe the same values in both
    'vllm:time_per_output_token_seconds': 'time_per_output_token.seconds',
    'vllm:inter_token_latency_seconds': 'time_per_output_token.seconds',
    'vllm:e2e_request_latency_seconds': 'e2e_request_latency.seconds',
    'vllm:request_prompt_tokens': 'request.prompt_tokens',
    'vllm:request_generation_tokens': 'request.generation_tokens',
    'vllm:request_success': 'request.success',
    # engine-only families
    'vllm:prefix_cache_queries': 'prefix_cache.queries',
    'vllm:prefix_cache_hits': 'prefix_cache.hits',
    'vllm:gpu_prefix_cache_queries': 'prefix_cache.queries',
    'vllm:gpu_prefix_cache_hits': 'prefix_cache.hits',
    'vllm:num_preemptions': 'num_preemptions',
    'vllm:corrupted_requests': 'request.corrupted',
    'vllm:iteration_tokens_total': 'iteration_tokens',
    'vllm:request_queue_time_seconds': 'request.queue_time.seconds',
    'vllm:request_inference_time_seconds': 'request.inference_time.seconds',
    'vllm:request_prefill_time_seconds': 'request.prefill_time.seconds',
    'vllm:request_decode_time_seconds': 'request.decode_time.seconds',
    'vllm:request_time_per_output_token_seconds': 'request.time_per_output_token.seconds',
    'vllm:request_max_num_generation_tokens': 'request.max_num_generation_tokens',
    'vllm:request_params_n': 'request.params.n',
    'vllm:request_params_max_tokens': 'request.params.max_tokens',
}

# NIM 2.x with the SGLang engine. Labels: `model_name` and the engine's own (`engine_type`,
# `tp_rank`, `pp_rank`, ...); `cache_source` on `sglang:cached_tokens_total`.
SGLANG_METRIC_MAP = {
    # the families a 1.x NIM has too
    'sglang:num_running_reqs': 'num_requests.running',
    'sglang:num_queue_reqs': 'num_requests.waiting',
    # the fraction of the KV-cache token pool in use
    'sglang:token_usage': 'gpu_cache_usage_percent',
    'sglang:prompt_tokens': 'prompt_tokens',
    'sglang:generation_tokens': 'generation_tokens',
    'sglang:time_to_first_token_seconds': 'time_to_first_token.seconds',
    # older SGLang releases name the inter-token latency `time_per_output_token_seconds`
    'sglang:time_per_output_token_seconds': 'time_per_output_token.seconds',
    'sglang:inter_token_latency_seconds': 'time_per_output_token.seconds',
    'sglang:e2e_request_latency_seconds': 'e2e_request_latency.seconds',
    'sglang:prompt_tokens_histogram': 'request.prompt_tokens',
    'sglang:generation_tokens_histogram': 'request.generation_tokens',
    # requests that finished (aborted ones are counted apart)
    'sglang:num_requests': 'request.success',
    # engine-only families
    'sglang:num_aborted_requests': 'request.aborted',
    'sglang:cached_tokens': 'prefix_cache.hits',
    'sglang:cache_hit_rate': 'prefix_cache.hit_rate',
    'sglang:num_retracted_requests': 'num_preemptions',
    'sglang:queue_time_seconds': 'request.queue_time.seconds',
    'sglang:gen_throughput': 'generation_throughput',
    'sglang:num_used_tokens': 'kv_cache.used_tokens',
}

NIM2_METRIC_MAP = {**VLLM_METRIC_MAP, **SGLANG_METRIC_MAP}

# `python_info` has a `version` label; as a tag it would clash with the reserved `version` tag.
RENAME_LABELS_MAP = {
    'version': 'python_version',
}
