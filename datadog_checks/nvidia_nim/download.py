"""The metrics request: GET through the transport (transport.py), the health service check, and
the body read whole (up to a size limit) and handed to the core as UTF-8."""

from __future__ import annotations

import codecs
from typing import Any

from requests.exceptions import ConnectionError as RequestsConnectionError

from datadog_checks.base import AgentCheck

from .config import ScraperSettings
from .transport import Transport, transport_for

ACCEPT_PROMETHEUS = 'text/plain'
ACCEPT_OPENMETRICS = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1'

# Read the body in chunks of this size; refuse bodies past MAX_BODY_BYTES (after decompression).
READ_CHUNK_BYTES = 1 << 18
MAX_BODY_BYTES = 256 * 1024 * 1024


class ResponseTooLargeError(ValueError):
    """The metrics body is larger than this check accepts."""


def declares_charset(content_type: str) -> bool:
    """Whether a Content-Type header names a (non-empty) charset, as requests reads its parameters."""
    for param in content_type.split(';')[1:]:
        key, sep, value = param.partition('=')
        if sep and key.strip().lower() == 'charset' and value.strip().strip('\'"'):
            return True
    return False


def read_body(response: Any) -> list[bytes]:
    """The body as read, in chunks (the core joins them into a buffer it keeps between scrapes,
    which saves allocating and faulting in a new one every time)."""
    chunks = []
    size = 0
    for chunk in response.iter_content(chunk_size=READ_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ResponseTooLargeError(f'Response body is larger than {MAX_BODY_BYTES} bytes')
        chunks.append(chunk)
    return chunks


def as_utf8(chunks: list[bytes], content_type: str, encoding: str | None) -> list[bytes]:
    """The body as UTF-8: decoded from the charset the Content-Type declares (`encoding`, as
    requests reads it; invalid bytes replaced), else taken as UTF-8 (where requests would fall
    back to ISO-8859-1 for `text/*`)."""
    encoding = (encoding if declares_charset(content_type) else None) or 'utf-8'
    try:
        if codecs.lookup(encoding).name == 'utf-8':
            return chunks
    except LookupError:
        pass
    return [b''.join(chunks).decode(encoding, errors='replace').encode('utf-8')]


class MetricsDownload:
    """The check's metrics request (a mixin of the check): the health service check follows it."""

    settings: ScraperSettings | None
    _transport: Transport | None

    def download(self, settings: ScraperSettings) -> tuple[str, list[bytes]] | None:
        """The endpoint's Content-Type and body (as UTF-8), the health check sent; None when the
        endpoint cannot be reached and `ignore_connection_errors` is set."""
        try:
            return self._download(settings)
        finally:
            if self._transport is not None:
                self._transport.release()

    def _health(self, status: int, message: str | None = None) -> None:
        settings = self.settings
        if settings is not None and settings.enable_health_service_check:
            self.service_check(self.SERVICE_CHECK_HEALTH, status, tags=settings.static_tags, message=message)

    def _fetch(self, settings: ScraperSettings):
        """GET the endpoint; a failure or an error status sends the CRITICAL health check."""
        options = {'stream': True}
        if self.http.options['headers'].get('Accept') == '*/*':
            accept = ACCEPT_OPENMETRICS if settings.use_latest_spec else ACCEPT_PROMETHEUS
            options['extra_headers'] = {'Accept': accept}
        response = None
        try:
            if self._transport is None:
                self._transport = transport_for(self, settings.endpoint)
            response = self._transport.get(**options)
            response.raise_for_status()
        except Exception as e:
            self._health(AgentCheck.CRITICAL, message=str(e))
            if response is not None:
                response.close()
            raise
        return response

    def _unreachable(self, settings: ScraperSettings) -> None:
        """`ignore_connection_errors`: an endpoint that cannot be reached is a warning."""
        self.log.warning('OpenMetrics endpoint %s is not accessible', settings.endpoint)
        self.version_lookup_due_now()

    def _download(self, settings: ScraperSettings) -> tuple[str, list[bytes]] | None:
        try:
            response = self._fetch(settings)
        except RequestsConnectionError:
            if not settings.ignore_connection_errors:
                raise
            return self._unreachable(settings)
        with response:
            content_type = response.headers.get('Content-Type', '')
            try:
                raw = read_body(response)
            except Exception as e:
                # The body did not arrive whole (cut short of its Content-Length, a broken chunked
                # encoding or gzip stream, a read timeout, past MAX_BODY_BYTES): nothing of it is used.
                self._health(AgentCheck.CRITICAL, message=str(e))
                if isinstance(e, RequestsConnectionError) and settings.ignore_connection_errors:
                    return self._unreachable(settings)
                raise
            self._health(AgentCheck.OK)
            if settings.telemetry:
                length = response.headers.get('Content-Length')
                size = int(length) if length is not None else sum(map(len, raw))
                self.gauge('telemetry.payload.size', size, tags=list(settings.static_tags))
            return content_type, as_utf8(raw, content_type, response.encoding)
