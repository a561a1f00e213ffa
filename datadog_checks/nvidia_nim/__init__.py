"""The NVIDIA NIM check for the Datadog Agent, with a Rust core."""

from .__about__ import __version__
from .check import NvidiaNIMCheck

__all__ = ['__version__', 'NvidiaNIMCheck']
