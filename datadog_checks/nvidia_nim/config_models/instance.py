"""One instance: the OpenMetrics scraper options, the HTTP options and the Agent's per-check
options, with the types the nvidia_nim integration declares for them."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from datadog_checks.base.utils.functions import identity
from datadog_checks.base.utils.models import validation

from . import defaults, validators


class AuthToken(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    reader: MappingProxyType[str, Any] | None = None
    writer: MappingProxyType[str, Any] | None = None


class MetricEntry(BaseModel):
    """`{raw_name: {name: ..., type: ..., <transformer modifiers>}}` in `metrics`/`extra_metrics`."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra='allow', frozen=True)

    name: str | None = None
    type: str | None = None


class Metrics(MetricEntry):
    pass


class ExtraMetrics(MetricEntry):
    pass


class MetricPatterns(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    exclude: tuple[str, ...] | None = None
    include: tuple[str, ...] | None = None


class Proxy(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] | None = None


class ShareLabels(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    labels: tuple[str, ...] | None = None
    match: tuple[str, ...] | None = None


class InstanceConfig(BaseModel):
    model_config = ConfigDict(validate_default=True, arbitrary_types_allowed=True, frozen=True)

    allow_redirects: bool | None = None
    auth_token: AuthToken | None = None
    auth_type: str | None = None
    aws_host: str | None = None
    aws_region: str | None = None
    aws_service: str | None = None
    cache_metric_wildcards: bool | None = None
    cache_shared_labels: bool | None = None
    collect_counters_with_distributions: bool | None = None
    collect_histogram_buckets: bool | None = None
    connect_timeout: float | None = None
    disable_generic_tags: bool | None = None
    empty_default_hostname: bool | None = None
    enable_health_service_check: bool | None = None
    exclude_labels: tuple[str, ...] | None = None
    exclude_metrics: tuple[str, ...] | None = None
    exclude_metrics_by_labels: MappingProxyType[str, bool | tuple[str, ...]] | None = None
    extra_headers: MappingProxyType[str, Any] | None = None
    extra_metrics: tuple[str | MappingProxyType[str, str | ExtraMetrics], ...] | None = None
    headers: MappingProxyType[str, Any] | None = None
    histogram_buckets_as_distributions: bool | None = None
    hostname_format: str | None = None
    hostname_label: str | None = None
    ignore_connection_errors: bool | None = None
    ignore_tags: tuple[str, ...] | None = None
    include_labels: tuple[str, ...] | None = None
    kerberos_auth: str | None = None
    kerberos_cache: str | None = None
    kerberos_delegate: bool | None = None
    kerberos_force_initiate: bool | None = None
    kerberos_hostname: str | None = None
    kerberos_keytab: str | None = None
    kerberos_principal: str | None = None
    log_requests: bool | None = None
    metric_patterns: MetricPatterns | None = None
    metrics: tuple[str | MappingProxyType[str, str | Metrics], ...] | None = None
    min_collection_interval: float | None = None
    namespace: str | None = Field(None, pattern='\\w*')
    non_cumulative_histogram_buckets: bool | None = None
    ntlm_domain: str | None = None
    openmetrics_endpoint: str
    password: str | None = None
    persist_connections: bool | None = None
    proxy: Proxy | None = None
    raw_line_filters: tuple[str, ...] | None = None
    raw_metric_prefix: str | None = None
    read_timeout: float | None = None
    rename_labels: MappingProxyType[str, Any] | None = None
    request_size: float | None = None
    service: str | None = None
    share_labels: MappingProxyType[str, bool | ShareLabels] | None = None
    skip_proxy: bool | None = None
    tag_by_endpoint: bool | None = None
    tags: tuple[str, ...] | None = None
    telemetry: bool | None = None
    timeout: float | None = None
    tls_ca_cert: str | None = None
    tls_cert: str | None = None
    tls_ciphers: tuple[str, ...] | None = None
    tls_ignore_warning: bool | None = None
    tls_private_key: str | None = None
    tls_protocols_allowed: tuple[str, ...] | None = None
    tls_use_host_header: bool | None = None
    tls_verify: bool | None = None
    use_latest_spec: bool | None = None
    use_legacy_auth_encoding: bool | None = None
    use_process_start_time: bool | None = None
    username: str | None = None

    @model_validator(mode='before')
    def _initial_validation(cls, values: MappingProxyType | dict) -> Any:
        hook = getattr(validators, 'initialize_instance', identity)
        return validation.core.initialize_config(hook(values))

    @field_validator('*', mode='before')
    def _validate(cls, value: Any, info) -> Any:
        field = cls.model_fields[info.field_name]
        if (field.alias or info.field_name) in info.context['configured_fields']:
            value = getattr(validators, f'instance_{info.field_name}', identity)(value, field=field)
        else:
            default = getattr(defaults, f'instance_{info.field_name}', None)
            value = default() if default is not None else value
        return validation.utils.make_immutable(value)

    @model_validator(mode='after')
    def _final_validation(self) -> InstanceConfig:
        return validation.core.check_model(getattr(validators, 'check_instance', identity)(self))
