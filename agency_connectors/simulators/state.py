"""Simulator configuration and the mutable state one server shares between its handler threads."""

from __future__ import annotations

import hmac
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .faults import Faults, updated
from .records import AGENCIES

DEMO_CONTROL_KEY = "demo-control-key"


def demo_api_key(agency: str) -> str:
    """The demo API key of `agency` ("demo-tax-key"). Demo only: anyone can read it here."""
    return f"demo-{agency}-key"


@dataclass
class SimulatorConfig:
    """`api_keys` must name every simulated agency; `latency_ms` is each agency's base latency
    (missing agencies: none), which `reset` returns to."""

    api_keys: dict[str, str]
    control_key: str
    seed: str = "consentry"
    latency_ms: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Raise ValueError naming the first problem."""
        missing = [a for a in AGENCIES if not self.api_keys.get(a)]
        if missing:
            raise ValueError(f"no API key for agencies {missing}")
        if not self.control_key:
            raise ValueError("control_key must not be empty")
        for agency, latency in self.latency_ms.items():
            if agency not in AGENCIES or type(latency) is not int or latency < 0:
                raise ValueError(f"bad latency_ms entry for {agency!r}")


def default_config(latency_ms: int = 0, seed: str = "consentry") -> SimulatorConfig:
    """The demo configuration: fixed, public, demo-only keys ("demo-<agency>-key" and
    "demo-control-key"), matching the platform's demo defaults. Never use them outside a demo."""
    return SimulatorConfig(
        api_keys={agency: demo_api_key(agency) for agency in AGENCIES},
        control_key=DEMO_CONTROL_KEY,
        seed=seed,
        latency_ms=dict.fromkeys(AGENCIES, latency_ms) if latency_ms else {},
    )


def same_secret(given: str, expected: bytes) -> bool:
    """Constant-time comparison. Header values arrive decoded as latin-1, so that encoding gives
    back the bytes that were sent."""
    return hmac.compare_digest(given.encode("latin-1", "replace"), expected)


class SimulatorState:
    """Faults and counters of every agency, plus the stop signal that sleeping handlers wait on."""

    def __init__(self, config: SimulatorConfig) -> None:
        config.check()
        self.config = config
        self.api_keys = {agency: config.api_keys[agency].encode("utf-8") for agency in AGENCIES}
        self.control_key = config.control_key.encode("utf-8")
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._dice = random.Random()  # error injection needs no reproducibility
        self._faults: dict[str, Faults] = {}
        self._requests: dict[str, int] = {}
        self._errors: dict[str, int] = {}
        # Values the agency corrected after a citizen's request: (agency, uinfin) -> {attribute: item}
        self._corrected: dict[tuple[str, str], dict[str, Any]] = {}
        self.reset()

    def faults(self, agency: str) -> Faults:
        return self._faults[agency]

    def update(self, agency: str, changes: Mapping[str, Any]) -> Faults:
        """Apply `changes` to `agency`'s faults; raises KeyError (unknown agency) or ValueError."""
        with self._lock:
            self._faults[agency] = updated(self._faults[agency], changes)
            return self._faults[agency]

    def reset(self) -> None:
        """Every agency back to its configured latency, no faults, zero counters, no corrections."""
        with self._lock:
            self._faults = {a: Faults(latency_ms=self.config.latency_ms.get(a, 0)) for a in AGENCIES}
            self._requests = dict.fromkeys(AGENCIES, 0)
            self._errors = dict.fromkeys(AGENCIES, 0)
            self._corrected = {}

    def correct(self, agency: str, uinfin: str, attribute: str, item: Any) -> None:
        """Hold `item` as the agency's value of `attribute` for this person from now on (until reset);
        None forgets the correction (the record's own value again)."""
        with self._lock:
            held = self._corrected.setdefault((agency, uinfin), {})
            if item is None:
                held.pop(attribute, None)
            else:
                held[attribute] = item

    def corrected_items(self, agency: str, uinfin: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._corrected.get((agency, uinfin), {}))

    def count_request(self, agency: str) -> None:
        with self._lock:
            self._requests[agency] += 1

    def count_error(self, agency: str) -> None:
        with self._lock:
            self._errors[agency] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        """Per agency: lookups received (whatever their outcome) and 5xx answers given."""
        with self._lock:
            return {a: {"requests": self._requests[a], "errors": self._errors[a]} for a in AGENCIES}

    def roll(self) -> float:
        return self._dice.random()
