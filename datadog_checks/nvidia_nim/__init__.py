"""The NVIDIA NIM check for the Datadog Agent, with a Rust core (and a pure-Python fallback where
the core cannot be loaded)."""

from .__about__ import __version__
from .native import CORE_ERROR

if CORE_ERROR is None:
    from .check import NvidiaNIMCheck
else:
    from .fallback import NvidiaNIMCheck

__all__ = ['__version__', 'NvidiaNIMCheck']
