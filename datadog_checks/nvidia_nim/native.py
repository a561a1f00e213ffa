"""Whether the Rust core (`_core`) loads on this host.

It does not with the pure-Python wheel (hosts with no native wheel: macOS, musl, other
architectures) or a broken install; the package then serves the pure-Python fallback check."""

from __future__ import annotations

import importlib

CORE_MODULE = f'{__package__}._core'

try:
    _core = importlib.import_module(CORE_MODULE)
except ModuleNotFoundError as e:
    _core = None
    CORE_ERROR: str | None = (
        'the pure-Python wheel, which has no native core, is installed'
        if e.name == CORE_MODULE
        else f'{type(e).__name__}: {e}'
    )
except Exception as e:  # ImportError (e.g. a glibc too old for the wheel), or a failing module init
    _core = None
    CORE_ERROR = f'{type(e).__name__}: {e}'
else:
    CORE_ERROR = None

__all__ = ['CORE_ERROR', '_core']
