"""The check where the Rust core cannot be loaded: datadog-checks-base's own OpenMetrics V2
scraper with this check's defaults (the NIM 1.x, vLLM V1 and SGLang maps, `rename_labels`), so a
host without a native wheel is never worse off than with the stock integration.

It keeps the deliberate differences that live in Python (the version URL for `/v1/metrics`, the
version looked up only when due and never failing the run: `version.py`); the others live in the
core and are the stock behaviour here. `latency_percentiles` needs the core: a clear
ConfigurationError, on every run, until the option is removed or a native wheel installed."""

from __future__ import annotations

from datadog_checks.base import ConfigurationError, OpenMetricsBaseCheckV2

from .config import default_config
from .config_models import ConfigMixin
from .fallback_scraper import Nim2Scraper
from .native import CORE_ERROR
from .percentiles import percentile_options
from .version import NimVersionMetadata

FALLBACK_WARNING = (
    'nvidia_nim: the Rust core of datadog-nvidia-nim is not loaded (%s); running on '
    "datadog-checks-base's OpenMetrics V2 scraper instead (same metrics and defaults, more CPU per run). "
    'For the native core, install the wheel built for this platform (manylinux2014 x86_64/aarch64, '
    'win_amd64) with `datadog-agent integration install -w <wheel>`.'
)


class NvidiaNIMCheck(OpenMetricsBaseCheckV2, ConfigMixin, NimVersionMetadata):
    """Collects NVIDIA NIM metrics with the stock scraper (no Rust core on this host)."""

    __NAMESPACE__ = 'nvidia_nim'
    DEFAULT_METRIC_LIMIT = 0

    def __init__(self, name, init_config, instances):
        super().__init__(name, init_config, instances)
        self.check_initializations.appendleft(self._warn_once)
        self.check_initializations.append(self._refuse_core_options)

    def _warn_once(self) -> None:
        self.log.warning(FALLBACK_WARNING, CORE_ERROR or 'the pure-Python fallback was chosen')

    def _refuse_core_options(self) -> None:
        if percentile_options(self.instance) is not None:
            raise ConfigurationError(
                'Setting `latency_percentiles` needs the Rust core of datadog-nvidia-nim, which is not loaded '
                f'on this host ({CORE_ERROR}): remove the option, or install the native wheel for this platform'
            )

    def get_default_config(self):
        return default_config()

    def create_scraper(self, config):
        return Nim2Scraper(self, self.get_config_with_defaults(config))

    def check(self, instance):
        try:
            super().check(instance)
        except BaseException:
            # a NIM that restarts (and may come back upgraded) fails a scrape first
            self.version_lookup_due_now()
            raise
        self.submit_version_metadata(self.instance['openmetrics_endpoint'])
