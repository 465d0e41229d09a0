"""The set of connectors a deployment uses, built from configuration, with one breaker per agency."""

from __future__ import annotations

import ssl
from collections.abc import Iterable

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
        # Building an SSL context costs milliseconds; build it once, not per refresh.
        self._ssl = ssl.create_default_context()

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

    def client(self, *, max_connections: int = 100) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        return httpx.AsyncClient(verify=self._ssl, limits=limits, follow_redirects=False)
