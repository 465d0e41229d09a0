"""The HTTP connector every agency module builds on: one POST per lookup (the national id goes in
the body, never the URL), a per-attempt timeout, bounded retries with exponential backoff and full
jitter, a circuit breaker, and strict checking of what comes back."""

from __future__ import annotations

import json
import random
import time
from typing import Any, ClassVar

import httpx

from profile_store.catalogue import Catalogue
from profile_store.fields import check_agency_items

from .base import AgencyEndpoint, AgencyFailure, FetchPolicy
from .breaker import CircuitBreaker

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class HttpAgencyConnector:
    agency: ClassVar[str]
    lookup_path: ClassVar[str] = "/v1/person-lookup"

    def __init__(
        self, endpoint: AgencyEndpoint, catalogue: Catalogue, policy: FetchPolicy, breaker: CircuitBreaker
    ) -> None:
        self.endpoint = endpoint
        self.catalogue = catalogue
        self.policy = policy
        self.breaker = breaker

    def fetch(self, client: httpx.Client, uinfin: str) -> dict[str, Any] | None:
        if not self.breaker.allow():
            raise AgencyFailure("circuit_open", "too many recent failures; not calling")
        try:
            result = self._fetch_with_retries(client, uinfin)
        except AgencyFailure:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return result

    def _fetch_with_retries(self, client: httpx.Client, uinfin: str) -> dict[str, Any] | None:
        last: AgencyFailure | None = None
        for attempt in range(self.policy.retries + 1):
            if attempt:
                # Full jitter keeps many workers from retrying in lock-step against a sick agency.
                time.sleep(random.uniform(0, self.policy.backoff_s * 2**attempt))  # noqa: S311
            try:
                response = client.post(
                    self.endpoint.url + self.lookup_path,
                    json={"uinfin": uinfin},
                    headers={"X-API-Key": self.endpoint.api_key},
                    timeout=self.policy.timeout_s,
                )
            except httpx.TimeoutException:
                last = AgencyFailure("timeout", f"no answer within {self.policy.timeout_s:g}s")
                continue
            except httpx.TransportError as exc:
                last = AgencyFailure("unreachable", type(exc).__name__)
                continue
            if response.status_code in RETRYABLE_STATUS:
                last = AgencyFailure(f"http_{response.status_code}", "agency error")
                continue
            return self._parse(response)
        raise last or AgencyFailure("no_attempt")

    def _parse(self, response: httpx.Response) -> dict[str, Any] | None:
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise AgencyFailure(f"http_{response.status_code}", "unexpected status")
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise AgencyFailure("invalid_json", f"body is not JSON ({exc.msg})") from None
        items = self.translate(body)
        if problems := check_agency_items(self.catalogue, self.agency, items):
            names = ", ".join(sorted(problems))
            raise AgencyFailure("invalid_payload", f"attributes rejected: {names}")
        return items

    def translate(self, body: Any) -> dict[str, Any]:
        """Turn the agency's response body into items keyed by attribute. Agencies whose API
        differs from the common envelope override this."""
        if not isinstance(body, dict) or not isinstance(body.get("attributes"), dict):
            raise AgencyFailure("invalid_payload", "expected an object with 'attributes'")
        if body.get("agency") not in (None, self.agency):
            raise AgencyFailure("invalid_payload", "answer names another agency")
        return body["attributes"]
