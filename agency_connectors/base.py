"""The connector protocol: how the platform asks one agency for one citizen's record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class AgencyEndpoint:
    """Where an agency's API lives and the credentials we hold for it."""

    code: str
    url: str
    api_key: str
    notify_secret: str


@dataclass(frozen=True)
class FetchPolicy:
    timeout_s: float = 2.0
    retries: int = 2
    backoff_s: float = 0.05


class AgencyFailure(Exception):
    """An agency could not give a usable answer. `reason` is a short code safe to log and store."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def summary(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


class AgencyConnector(Protocol):
    """Fetches one citizen's record from one agency.

    `fetch` runs in a worker thread (agencies are called in parallel). It returns the agency's
    items keyed by attribute (already checked against the catalogue),
    None when the agency holds no record of the citizen, or raises AgencyFailure.
    """

    agency: str

    def fetch(self, client: httpx.Client, uinfin: str) -> dict[str, Any] | None: ...
