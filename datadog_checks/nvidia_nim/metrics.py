"""The default metric map: NIM's exposed family names → Datadog names (before `nvidia_nim.`)."""

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

# `python_info` has a `version` label; as a tag it would clash with the reserved `version` tag.
RENAME_LABELS_MAP = {
    'version': 'python_version',
}
