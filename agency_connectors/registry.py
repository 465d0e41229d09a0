"""The set of connectors a deployment uses, built from configuration, with one breaker per agency."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpx

from core.errors import ConfigurationError
from profile_store.catalogue import Catalogue

from .agencies import CONNECTOR_CLASSES
from .base import AgencyEndpoint, FetchPolicy
from .breaker import CircuitBreaker
from .http import HttpAgencyConnector


class ConnectorRegistry:
    def __init__(
        self, connectors: dict[str, HttpAgencyConnector], endpoints: dict[str, AgencyEndpoint]
    ) -> None:
        self.connectors = connectors
        self.endpoints = endpoints
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def build(
        cls,
        endpoints: Iterable[AgencyEndpoint],
        catalogue: Catalogue,
        policy: FetchPolicy,
        *,
        breaker_threshold: int = 5,
        breaker_reset_s: float = 30.0,
    ) -> ConnectorRegistry:
        connectors: dict[str, HttpAgencyConnector] = {}
        by_code: dict[str, AgencyEndpoint] = {}
        for endpoint in endpoints:
            connector_class = CONNECTOR_CLASSES.get(endpoint.code)
            if connector_class is None:
                raise ConfigurationError(f"no connector module for agency {endpoint.code!r}")
            if endpoint.code not in catalogue.agencies:
                raise ConfigurationError(f"agency {endpoint.code!r} is not in the attribute catalogue")
            breaker = CircuitBreaker(breaker_threshold, breaker_reset_s)
            connectors[endpoint.code] = connector_class(endpoint, catalogue, policy, breaker)
            by_code[endpoint.code] = endpoint
        return cls(connectors, by_code)

    @classmethod
    def from_config(cls, config, catalogue: Catalogue) -> ConnectorRegistry:
        return cls.build(
            config.agencies,
            catalogue,
            FetchPolicy(config.agency_timeout_s, config.agency_retries, config.agency_backoff_s),
            breaker_threshold=config.breaker_threshold,
            breaker_reset_s=config.breaker_reset_s,
        )

    def codes(self) -> list[str]:
        return list(self.connectors)

    @property
    def http(self) -> httpx.Client:
        """One pooled, thread-safe client per process: connections to agencies are reused across
        refreshes instead of being set up per request."""
        with self._lock:
            if self._http is None:
                self._http = new_http_client(max_connections=64)
            return self._http

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Worker threads for single-citizen fan-out (bulk refresh brings its own)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=4 * len(self.connectors) or 1, thread_name_prefix="agency"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
            self._http, self._pool = None, None


def new_http_client(*, max_connections: int, max_keepalive: int | None = None) -> httpx.Client:
    # Measured here: httpx's sync client in worker threads serves several times the requests per
    # second of its asyncio client (docs/agencies.md), so agencies are called from threads.
    keepalive = max_connections if max_keepalive is None else max_keepalive
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
    return httpx.Client(verify=ssl.create_default_context(), limits=limits, follow_redirects=False)
