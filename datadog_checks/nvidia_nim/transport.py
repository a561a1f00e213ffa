"""The metrics request, through the Agent's HTTP wrapper (`RequestsWrapper`), with the work that
gives the same answer on every run done once per check instance.

For each request, requests reads the proxy settings from the process environment (`*_proxy` and
`no_proxy`, scanning the whole environment twice) and the CA-bundle variables, and with
`persist_connections` off the wrapper builds a new `requests.Session` (two connection pools, a
cookie jar, default headers). The Agent's environment does not change while it runs, so here:

* the proxies and the CA bundle requests would take from the environment for the endpoint are
  read at the first request and handed to requests with every request, with `trust_env` off (a
  redirect turns it back on, so each hop of a redirect reads the environment as before);
* `~/.netrc`, which requests also reads when no auth is configured, is still read every request;
* the session is kept. With `persist_connections` off it is one the wrapper is handed (as the
  wrapper makes its own: its options as attributes), emptied of cookies before each request and
  its connections closed after it, so that each request opens a new connection with a fresh
  state, as with a new session; the wrapper's TLS adapters are shared between its sessions, and
  stay so. With `persist_connections` on it is the wrapper's own persistent session, as before.

Everything else (headers, auth, auth tokens, TLS, timeouts, redirects, proxy options, logging) is
still done by the wrapper and requests, as for any request. An HTTP layer that is not a
`RequestsWrapper`, or an endpoint that is not `http://`/`https://` (a Unix socket), gets the plain
`self.http.get`.

Beyond `self.http.get` and its documented per-request options, this reads parts of the base
package's HTTP module that its documentation does not promise: the module's
`should_bypass_proxy`, `PROXY_SETTINGS_DISABLED` and `UDS_SCHEME`, the wrapper's `options`,
`no_proxy_uris`, `persist_connections` and `session`, and its `session=` argument. They are looked
up when the transport is made; when a release of the base package lacks one, the check uses the
plain `self.http.get` (what it sends is the same, only each run costs more) and logs that once at
debug level."""

from __future__ import annotations

import os
from typing import Any, Protocol

import requests
from requests.utils import get_environ_proxies, get_netrc_auth

from datadog_checks.base.utils import http as base_http
from datadog_checks.base.utils.http import RequestsWrapper

HTTP_SCHEMES = ('http://', 'https://')
# what the kept session needs of the base package beyond its documented API (see the docstring)
BASE_MODULE_NAMES = ('should_bypass_proxy', 'PROXY_SETTINGS_DISABLED', 'UDS_SCHEME')
WRAPPER_ATTRIBUTES = ('options', 'no_proxy_uris', 'persist_connections')
WRAPPER_PROPERTIES = ('session',)  # looked up on the class: reading it makes a session


class AgentCheckHttp(Protocol):
    """What a transport needs of the AgentCheck it works for."""

    instance: dict[str, Any]
    init_config: dict[str, Any]
    HTTP_CONFIG_REMAPPER: dict[str, Any] | None
    log: Any

    @property
    def http(self) -> Any: ...


class Transport(Protocol):
    def get(self, **options: Any) -> requests.Response: ...

    def release(self) -> None: ...


class PlainTransport:
    """`check.http.get(url)`, whatever `check.http` is at the time of the request."""

    def __init__(self, check: AgentCheckHttp, url: str):
        self._check = check
        self._url = url

    def get(self, **options: Any) -> requests.Response:
        return self._check.http.get(self._url, **options)

    def release(self) -> None:
        pass


def environment_options(http: RequestsWrapper, url: str) -> dict[str, Any]:
    """The request options requests would take from the environment for `url` through `http`:
    `proxies` as requests would build them for the request (the wrapper's proxies, or none for a
    `no_proxy` host, with the environment's `*_proxy` added unless `no_proxy` covers the URL), and
    for a plain-HTTP URL `verify` (`REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`): for HTTPS the wrapper's
    TLS adapter ignores it, and it would change the adapter the wrapper picks."""
    proxies = http.options.get('proxies')
    if http.no_proxy_uris and base_http.should_bypass_proxy(url, http.no_proxy_uris):
        proxies = base_http.PROXY_SETTINGS_DISABLED
    proxies = dict(proxies or {})
    prepared_url = requests.Request('GET', url).prepare().url or url
    for scheme, proxy in get_environ_proxies(prepared_url, no_proxy=proxies.get('no_proxy')).items():
        proxies.setdefault(scheme, proxy)
    options: dict[str, Any] = {'proxies': proxies}
    if url.startswith('http://'):
        verify = http.options.get('verify')
        if verify is True or verify is None:
            verify = os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('CURL_CA_BUNDLE') or verify
        options['verify'] = verify
    return options


class KeptSessionTransport:
    """GETs `url` through `http` on one kept `session`; see the module docstring."""

    def __init__(self, http: RequestsWrapper, session: requests.Session, url: str, fresh_each_request: bool):
        self._http = http
        self._session = session
        self._url = url
        # the session's own adapters (not the wrapper's shared TLS adapters, mounted per request)
        self._own_adapters = tuple(session.adapters.values()) if fresh_each_request else ()
        self._fresh_each_request = fresh_each_request
        self._options = {
            **environment_options(http, url),
            'persist': True,
            'hooks': {'response': [self._on_response]},
        }

    def get(self, **options: Any) -> requests.Response:
        session = self._session
        if self._fresh_each_request:
            session.cookies.clear()
        request = {**self._options, **options}
        if not self._http.options.get('auth'):
            netrc_auth = get_netrc_auth(self._url)
            if netrc_auth is not None:
                request['auth'] = netrc_auth
        session.trust_env = False
        try:
            return self._http.get(self._url, **request)
        finally:
            session.trust_env = True

    def release(self) -> None:
        """Closes the connections of the session's own adapters (with `persist_connections` off):
        the next request opens a new one, as with a new session."""
        for adapter in self._own_adapters:
            adapter.close()

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # requests follows a redirect with the session's `trust_env`: the environment (proxies for
        # the new host, ~/.netrc) is read for each hop, as without this transport
        if response.is_redirect:
            self._session.trust_env = True


def missing_base_internals(http: RequestsWrapper) -> list[str]:
    """The parts of the base package the kept session needs that this release lacks."""
    missing = [name for name in BASE_MODULE_NAMES if not hasattr(base_http, name)]
    missing += [f'RequestsWrapper.{name}' for name in WRAPPER_ATTRIBUTES if not hasattr(http, name)]
    return missing + [f'RequestsWrapper.{name}' for name in WRAPPER_PROPERTIES if not hasattr(type(http), name)]


def transport_for(check: AgentCheckHttp, url: str) -> Transport:
    """The transport for the check's requests to `url`."""
    http = check.http
    if not isinstance(http, RequestsWrapper) or not url.startswith(HTTP_SCHEMES):
        return PlainTransport(check, url)
    missing = missing_base_internals(http)
    if missing:
        check.log.debug('nvidia_nim: plain requests: this datadog-checks-base lacks %s', ', '.join(missing))
        return PlainTransport(check, url)
    if http.persist_connections:
        return KeptSessionTransport(http, http.session, url, fresh_each_request=False)
    try:
        return fresh_session_transport(check, url)
    except (ImportError, TypeError) as error:
        check.log.debug('nvidia_nim: plain requests: %s', error)
        return PlainTransport(check, url)


def fresh_session_transport(check: AgentCheckHttp, url: str) -> KeptSessionTransport:
    """A kept session as the wrapper makes one for each request (its Unix-socket adapter, its
    options as attributes), behind a wrapper of its own."""
    import requests_unixsocket  # a dependency of the base package, which loads it lazily too

    session = requests.Session()
    session.mount(f'{base_http.UDS_SCHEME}://', requests_unixsocket.UnixAdapter())
    own_http = RequestsWrapper(
        check.instance or {}, check.init_config, check.HTTP_CONFIG_REMAPPER, check.log, session=session
    )
    for name, value in own_http.options.items():
        setattr(session, name, value)
    return KeptSessionTransport(own_http, session, url, fresh_each_request=True)
