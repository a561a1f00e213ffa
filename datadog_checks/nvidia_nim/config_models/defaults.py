"""Default values of the options that have one (`shared_<option>` for `init_config`,
`instance_<option>` for instances). The models fill an option that is absent from the configuration
with its default here, or with None when it has none. conf.yaml.example documents the same values."""

from __future__ import annotations


def shared_skip_proxy() -> bool:
    return False


def shared_timeout() -> float:
    return 10


def instance_allow_redirects() -> bool:
    return True


def instance_auth_type() -> str:
    return 'basic'


def instance_cache_metric_wildcards() -> bool:
    return True


def instance_cache_shared_labels() -> bool:
    return True


def instance_collect_counters_with_distributions() -> bool:
    return False


def instance_collect_histogram_buckets() -> bool:
    return True


def instance_disable_generic_tags() -> bool:
    return False


def instance_empty_default_hostname() -> bool:
    return False


def instance_enable_health_service_check() -> bool:
    return True


def instance_histogram_buckets_as_distributions() -> bool:
    return False


def instance_ignore_connection_errors() -> bool:
    return False


def instance_kerberos_auth() -> str:
    return 'disabled'


def instance_kerberos_delegate() -> bool:
    return False


def instance_kerberos_force_initiate() -> bool:
    return False


def instance_log_requests() -> bool:
    return False


def instance_min_collection_interval() -> float:
    return 15


def instance_non_cumulative_histogram_buckets() -> bool:
    return False


def instance_persist_connections() -> bool:
    return False


def instance_request_size() -> float:
    return 16


def instance_skip_proxy() -> bool:
    return False


def instance_tag_by_endpoint() -> bool:
    return True


def instance_telemetry() -> bool:
    return False


def instance_timeout() -> float:
    return 10


def instance_tls_ignore_warning() -> bool:
    return False


def instance_tls_use_host_header() -> bool:
    return False


def instance_tls_verify() -> bool:
    return True


def instance_use_latest_spec() -> bool:
    return False


def instance_use_legacy_auth_encoding() -> bool:
    return True


def instance_use_process_start_time() -> bool:
    return False
