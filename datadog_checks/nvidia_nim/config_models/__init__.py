"""Configuration models of the check.

`AgentCheck.load_configuration_models` imports this package on the first run, validates
`init_config` against `SharedConfig` and the instance against `InstanceConfig`, and keeps the results
(`self.shared_config`, `self.config` through `ConfigMixin`). A validation error is a
`ConfigurationError` that fails that run and every later one until the configuration is fixed.

The models declare the options (names and types) of the nvidia_nim integration's own models, so
that a configuration is accepted or refused, with the same messages, as by that integration.
Options they do not declare are not refused: pydantic ignores them and the scraper reads them.
"""

from __future__ import annotations

from .instance import InstanceConfig
from .shared import SharedConfig


class ConfigMixin:
    """Typed access to the validated models, once the first run has loaded them."""

    _config_model_instance: InstanceConfig
    _config_model_shared: SharedConfig

    @property
    def config(self) -> InstanceConfig:
        return self._config_model_instance

    @property
    def shared_config(self) -> SharedConfig:
        return self._config_model_shared


__all__ = ['ConfigMixin', 'InstanceConfig', 'SharedConfig']
