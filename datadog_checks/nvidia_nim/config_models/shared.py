"""`init_config`: options shared by every instance."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from datadog_checks.base.utils.functions import identity
from datadog_checks.base.utils.models import validation

from . import defaults, validators


class Proxy(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] | None = None


class SharedConfig(BaseModel):
    model_config = ConfigDict(validate_default=True, arbitrary_types_allowed=True, frozen=True)

    proxy: Proxy | None = None
    service: str | None = None
    skip_proxy: bool | None = None
    timeout: float | None = None

    @model_validator(mode='before')
    def _initial_validation(cls, values: MappingProxyType | dict) -> Any:
        hook = getattr(validators, 'initialize_shared', identity)
        return validation.core.initialize_config(hook(values))

    @field_validator('*', mode='before')
    def _validate(cls, value: Any, info) -> Any:
        field = cls.model_fields[info.field_name]
        if (field.alias or info.field_name) in info.context['configured_fields']:
            value = getattr(validators, f'shared_{info.field_name}', identity)(value, field=field)
        else:
            default = getattr(defaults, f'shared_{info.field_name}', None)
            value = default() if default is not None else value
        return validation.utils.make_immutable(value)

    @model_validator(mode='after')
    def _final_validation(self) -> SharedConfig:
        return validation.core.check_model(getattr(validators, 'check_shared', identity)(self))
