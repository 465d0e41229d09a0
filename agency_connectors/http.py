"""The HTTP connector every agency module builds on: one POST per lookup (the national id goes in
the body, never the URL), a per-attempt timeout, bounded retries with exponential backoff and full
jitter, a circuit breaker, and strict checking of what comes back.

Whatever an agency sends, `fetch` returns its checked items, None (no record) or raises
AgencyFailure: a body that is not UTF-8, not JSON, not labelled JSON, nested past the parser's
limits or of the wrong shape is that agency's named failure, counted by its breaker like a
timeout, and never an exception that would fail a whole refresh."""

from __future__ import annotations

import json
import random
import time
from typing import Any, ClassVar

import httpx
import structlog

from profile_store.catalogue import Catalogue
from profile_store.fields import check_agency_items

from .base import AgencyEndpoint, AgencyFailure, FetchPolicy
from .breaker import CircuitBreaker

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
log = structlog.get_logger(__name__)


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
        except Exception as exc:
            # A case the checks below missed (an agency module's own translate, say) is still this
            # agency's failure: one agency must never abort a refresh of all the others.
            self.breaker.record_failure()
            log.warning("agency_connector_error", agency=self.agency, error=type(exc).__name__)
            raise AgencyFailure("invalid_payload", f"unreadable answer ({type(exc).__name__})") from None
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
            except httpx.HTTPError as exc:  # e.g. DecodingError: a Content-Encoding that lies
                raise AgencyFailure("invalid_encoding", type(exc).__name__) from None
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
        items = self.translate(decode_json(response))
        if not isinstance(items, dict):
            raise AgencyFailure("invalid_payload", "expected the attributes as an object")
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


def decode_json(response: httpx.Response) -> Any:
    """The JSON value in an agency's answer. AgencyFailure when the answer is not labelled JSON
    (`invalid_content_type`), is not UTF-8 (`invalid_encoding`, RFC 8259 §8.1) or does not parse
    as JSON (`invalid_json`: truncated, NaN or Infinity, numbers past Python's digit limit,
    nesting past the recursion limit). Details name no value from the body."""
    mimetype = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise AgencyFailure("invalid_content_type", f"expected JSON, got {mimetype[:40] or 'no type'!r}")
    try:
        text = response.content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgencyFailure("invalid_encoding", f"body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise AgencyFailure("invalid_json", f"body is not JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise AgencyFailure("invalid_json", f"body is not JSON ({type(exc).__name__})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 has no NaN or Infinity
