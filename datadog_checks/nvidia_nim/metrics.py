"""The default metric map: NIM's exposed family names → Datadog names (before `nvidia_nim.`).

`METRIC_MAP` is the stock integration's map: the NIM for LLMs 1.x names. `NIM2_METRIC_MAP` adds
what a NIM 2.x exposes when it passes its engine's own metrics through: vLLM V1 (`vllm:` names)
or SGLang (`sglang:` names). The families every dialect has arrive under the 1.x Datadog names;
the engine-only families get names of their own. A 1.x NIM exposes none of the 2.x names, so the
2.x entries change nothing for it.

Counter families are named without `_total` (the parsers strip it), histogram families keep
their exposed name (`vllm:iteration_tokens_total` is a histogram). Every entry is `native`: the
submission follows the exposed type, as in the stock map.

Three specs go with the maps (`routes.py` hands them to the core): `LABEL_ROUTES` sends one
family's samples under several Datadog names by a label's value, so that a 1.x name keeps its
1.x meaning; `SUPERSEDED` names the families an engine renamed, of which only the current one is
sent when a scrape has both; `INFO_GAUGES` turns an info family's label values into gauges.
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
    # every finished request, by `finished_reason`: split by `LABEL_ROUTES` into success (stop,
    # length), failure (any other reason) and finish (all), the NIM 1.x meanings
    'vllm:request_success': 'request.finish',
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
    'vllm:request_prefill_kv_computed_tokens': 'request.prefill_kv_computed_tokens',
    # 1 for the engine's current state (`sleep_state`: awake, weights_offloaded, discard_all)
    'vllm:engine_sleep_state': 'engine_sleep_state',
    'vllm:num_requests_waiting_by_reason': 'num_requests.waiting_by_reason',
    'vllm:prompt_tokens_cached': 'prompt_tokens.cached',
    'vllm:prompt_tokens_by_source': 'prompt_tokens.by_source',
    'vllm:prompt_tokens_recomputed': 'prompt_tokens.recomputed',
    'vllm:external_prefix_cache_queries': 'external_prefix_cache.queries',
    'vllm:external_prefix_cache_hits': 'external_prefix_cache.hits',
    'vllm:mm_cache_queries': 'mm_cache.queries',
    'vllm:mm_cache_hits': 'mm_cache.hits',
    'vllm:spec_decode_num_drafts': 'spec_decode.num_drafts',
    'vllm:spec_decode_num_draft_tokens': 'spec_decode.num_draft_tokens',
    'vllm:spec_decode_num_accepted_tokens': 'spec_decode.num_accepted_tokens',
    'vllm:spec_decode_num_accepted_tokens_per_pos': 'spec_decode.num_accepted_tokens_per_pos',
    # value 1, the engine's cache configuration as tags (`block_size`, `num_gpu_blocks`, ...)
    'vllm:cache_config_info': 'cache_config_info',
    # the LoRA adapters in use: sent as the gauges of `INFO_GAUGES`
    'vllm:lora_requests_info': 'lora_requests_info',
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
    'sglang:inter_token_latency_seconds': 'time_per_output_token.seconds',
    # older SGLang releases: one observation per finished request (its mean time per output
    # token), not one per output token as the 1.x family: a name of its own
    'sglang:time_per_output_token_seconds': 'request.mean_time_per_output_token.seconds',
    'sglang:e2e_request_latency_seconds': 'e2e_request_latency.seconds',
    'sglang:prompt_tokens_histogram': 'request.prompt_tokens',
    'sglang:generation_tokens_histogram': 'request.generation_tokens',
    # every finished request (success and failure cannot be told apart: no 1.x success/failure)
    'sglang:num_requests': 'request.finish',
    # engine-only families
    'sglang:num_aborted_requests': 'request.aborted',
    'sglang:cached_tokens': 'prefix_cache.hits',
    'sglang:cache_hit_rate': 'prefix_cache.hit_rate',
    'sglang:num_retracted_requests': 'num_preemptions',
    'sglang:queue_time_seconds': 'request.queue_time.seconds',
    'sglang:gen_throughput': 'generation_throughput',
    'sglang:num_used_tokens': 'kv_cache.used_tokens',
    'sglang:max_total_num_tokens': 'kv_cache.max_tokens',
    'sglang:num_retracted_reqs': 'requests.retracted',
    'sglang:num_paused_reqs': 'requests.paused',
    'sglang:utilization': 'scheduler.utilization',
    'sglang:spec_accept_length': 'spec_decode.accept_length',
    'sglang:spec_accept_rate': 'spec_decode.accept_rate',
    'sglang:engine_startup_time': 'startup.seconds',
    'sglang:engine_load_weights_time': 'weight_load.seconds',
    'sglang:http_requests_active': 'http.requests.active',
}

NIM2_METRIC_MAP = {**VLLM_METRIC_MAP, **SGLANG_METRIC_MAP}

# One family, several Datadog names by a label's value. Applied to the map entry of the family
# when its Datadog name is `name` (so a user's own entry for the family is left alone). Each
# target: (Datadog name, 'any' | 'in' | 'not_in', label values, keep the label as a tag); a sample
# goes to every target that matches, an absent label matching as ''.
FINISHED_OK = ['stop', 'length']
LABEL_ROUTES = {
    # vLLM V1 counts every finished request here: the NIM 1.x success, failure and finish
    'vllm:request_success': {
        'name': 'request.finish',
        'label': 'finished_reason',
        'targets': [
            ('request.success', 'in', FINISHED_OK, True),
            ('request.failure', 'not_in', FINISHED_OK, True),
            ('request.finish', 'any', [], True),
        ],
    },
    # SGLang with priority scheduling: a total (`priority=""`, sent without the tag, as without
    # priority scheduling) and one child per priority (`.by_priority`, tagged): summing one name
    # across its tags never counts a request twice
    **{
        family: {
            'name': name,
            'label': 'priority',
            'targets': [(name, 'in', [''], False), (f'{name}.by_priority', 'not_in', [''], True)],
        }
        for family, name in (
            ('sglang:num_running_reqs', 'num_requests.running'),
            ('sglang:num_queue_reqs', 'num_requests.waiting'),
        )
    },
}

# Info families sent as gauges computed from label values of their latest sample (the highest
# value: vLLM sets `lora_requests_info` to the time of its last update, and keeps every label set
# it ever had). Applied to the map entry of the family when its Datadog name is `name`. Each gauge:
# (Datadog name, 'count' of comma-separated items | 'number', label); the other labels are tags.
INFO_GAUGES = {
    'vllm:lora_requests_info': {
        'name': 'lora_requests_info',
        'gauges': [
            ('lora.running_adapters', 'count', 'running_lora_adapters'),
            ('lora.waiting_adapters', 'count', 'waiting_lora_adapters'),
            ('lora.max_adapters', 'number', 'max_lora'),
        ],
    },
}

# Old family → the family that replaced it. Where both map to the same Datadog name, a scrape that
# has a sample of the current family does not send the old one (a release or two expose both).
SUPERSEDED = {
    'vllm:gpu_cache_usage_perc': 'vllm:kv_cache_usage_perc',
    'vllm:time_per_output_token_seconds': 'vllm:inter_token_latency_seconds',
    'vllm:gpu_prefix_cache_queries': 'vllm:prefix_cache_queries',
    'vllm:gpu_prefix_cache_hits': 'vllm:prefix_cache_hits',
}

# `python_info` has a `version` label; as a tag it would clash with the reserved `version` tag.
RENAME_LABELS_MAP = {
    'version': 'python_version',
}
