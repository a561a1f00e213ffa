"""The NIM version as Agent metadata, read from `/v1/version` next to the metrics endpoint.

Shared by the check and its pure-Python fallback (`fallback.py`), so both keep this project's two
deliberate differences from the stock check: `.../metrics` and `.../v1/metrics` both map to
`.../v1/version`, and the version is looked up only when due, without ever failing the run."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

# How long a NIM version read from /v1/version is trusted while scrapes keep succeeding.
VERSION_REFRESH_SECONDS = 600


def version_url(endpoint: str) -> str:
    """`/v1/version` next to the metrics path: `.../metrics` and `.../v1/metrics` both map to
    `.../v1/version` (any path prefix before them is kept; query and fragment are dropped)."""
    parts = urlsplit(endpoint)
    path = parts.path.rstrip('/')
    for suffix in ('/v1/metrics', '/metrics'):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    else:
        path = ''
    return urlunsplit((parts.scheme, parts.netloc, f'{path}/v1/version', '', ''))


class NimVersionMetadata:
    """Mixin for an AgentCheck: `submit_version_metadata(endpoint)` after every good scrape,
    `version_lookup_due_now()` after a failed one (a NIM that restarts may come back upgraded)."""

    # monotonic time of the last successful lookup (None: look it up after the next good scrape)
    _version_checked_at: float | None = None
    # (major, minor, patch) of the release last read
    _nim_release: tuple[str, str, str] | None = None

    def version_lookup_due_now(self) -> None:
        self._version_checked_at = None

    def _version_due(self) -> bool:
        """Whether to look the NIM version up now: after the first good scrape, after any failed
        one, and every VERSION_REFRESH_SECONDS (the stock check asks on every run). A lookup that
        fails is tried again at the next run."""
        checked = self._version_checked_at
        return checked is None or time.monotonic() - checked >= VERSION_REFRESH_SECONDS

    def submit_version_metadata(self, endpoint: str) -> None:
        """Version metadata from `/v1/version`, set after every good scrape as the stock check
        sets it, from the release last read. A failure here is logged and does not fail the run:
        the metrics of the run are already submitted and valid."""
        if not self.is_metadata_collection_enabled():
            return
        if self._version_due():
            self._nim_release = self._read_release(version_url(endpoint))
            if self._nim_release is not None:
                self._version_checked_at = time.monotonic()
        if self._nim_release is None:
            return
        major, minor, patch = self._nim_release
        self.set_metadata(
            'version',
            f'{major}.{minor}.{patch}',
            scheme='semver',
            part_map={'major': major, 'minor': minor, 'patch': patch},
        )

    def _read_release(self, url: str) -> tuple[str, str, str] | None:
        """(major, minor, patch) of the NIM release, or None (logged) when it cannot be read."""
        try:
            response = self.http.get(url)
            response.raise_for_status()
            release = response.json().get('release', '')
        except Exception as e:
            self.log.debug('Could not read the NIM version from %s: %s', url, e)
            return None
        if not isinstance(release, str):
            self.log.debug('Invalid NVIDIA NIM release: %r', release)
            return None
        parts = release.split('.')
        if len(parts) < 3:
            self.log.debug('Invalid NVIDIA NIM release format: %s', release)
            return None
        major, minor, patch = parts[:3]
        return major, minor, patch
