"""The simulated agencies' side of correction requests: told to (POST /_control/{agency}/corrections
with the platform's URL and the agency's signing secret), an agency fetches the requests citizens
sent it and answers each one, as a clerk would.

    POST /_control/{agency}/corrections   X-Control-Key, body {"platform_url", "secret"}
        -> {"agency", "corrected", "rejected", "withdrawn", "failed"}

The clerk's rule: a plain text value (an item with a "value", such as a name; a date only by a
date) is corrected to what the citizen says, kept in the simulator's records from then on
(SimulatorState.correct), and answered "corrected", so the platform fetches it again; anything
with structure (a code, an address, a list) is "rejected" with a reason, as it cannot be changed
from one line of text. Requests are read
with status "sent" and "acknowledged", every page; a request the citizen withdraws between the
read and the answer is refused with 409 and counted "withdrawn", and the clerk's change to the
record is undone. Calls are signed like every
agency API call (agency_connectors/signed_requests.py). Nothing about a request is logged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..signed_requests import sign_request
from .records import record_for
from .state import SimulatorState

CANNOT_CHANGE = "We cannot change this item from a written request. Please bring proof to one of our offices."
TIMEOUT_S = 10.0
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_PAGES = 50


class Closed(ValueError):
    """The platform answered 409: the request is no longer open (the citizen withdrew it)."""


def answer_corrections(
    state: SimulatorState, agency: str, *, platform_url: str, secret: str
) -> dict[str, Any]:
    """Answer every open request of `agency` at `platform_url`; counts of each outcome. Raises
    ValueError when the platform refuses a call (bad secret, unknown agency) or cannot be reached."""
    counts = {"agency": agency, "corrected": 0, "rejected": 0, "withdrawn": 0, "failed": 0}
    for status in ("sent", "acknowledged"):
        for item in _open_requests(platform_url, agency, secret, status):
            held = state.corrected_items(agency, item["uinfin"]).get(item["attribute"])
            answer, fixed = _decide(state, agency, item)
            if fixed is not None:  # before the answer: "corrected" makes the platform fetch it at once
                state.correct(agency, item["uinfin"], item["attribute"], fixed)
            try:
                _call(platform_url, secret, "POST", f"/agency-api/{agency}/corrections/{item['id']}", answer)
            except Closed:
                state.correct(agency, item["uinfin"], item["attribute"], held)  # as it was
                counts["withdrawn"] += 1
                continue
            except ValueError:
                counts["failed"] += 1
                continue
            counts[answer["status"]] += 1
    return counts


def _decide(state: SimulatorState, agency: str, item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The answer, and the corrected item to keep once the platform accepts it (else None)."""
    record = record_for(agency, item["uinfin"], state.config.seed) or {}
    current = {**record, **state.corrected_items(agency, item["uinfin"])}.get(item["attribute"])
    if isinstance(current, dict) and _fits(current.get("value"), item["correct_value"]):
        fixed = {**current, "value": item["correct_value"], "lastupdated": dt.date.today().isoformat()}
        fixed.pop("unavailable", None)
        return {"status": "corrected"}, fixed
    return {"status": "rejected", "reason": CANNOT_CHANGE}, None


def _fits(current: Any, correct: str) -> bool:
    """A plain text value the correct one can replace: a date only by a date (the platform checks
    every item it fetches against the catalogue, and one bad item fails the agency's whole answer)."""
    if not isinstance(current, str):
        return False
    return not DATE.fullmatch(current) or bool(DATE.fullmatch(correct))


def _open_requests(platform_url: str, agency: str, secret: str, status: str):
    cursor = None
    for _ in range(MAX_PAGES):
        query = {"status": status, **({"cursor": cursor} if cursor else {})}
        page = _call(
            platform_url, secret, "GET", f"/agency-api/{agency}/corrections?{urllib.parse.urlencode(query)}"
        )
        yield from page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return


def _call(platform_url: str, secret: str, method: str, target: str, payload: Any = None) -> Any:
    body = json.dumps(payload).encode() if payload is not None else b""
    timestamp = str(int(time.time()))
    headers = {
        "X-Timestamp": timestamp,
        "X-Signature": sign_request(secret, timestamp, method, target, body),
        "Accept": "application/json",
    }
    if payload is not None:
        headers["Content-Type"] = "application/json"
    url = platform_url.rstrip("/") + target  # http(s) only: the control endpoint checks the scheme
    call = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT_S) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        refused = Closed if exc.code == 409 else ValueError
        raise refused(f"the platform answered {exc.code}") from None
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"the platform could not be reached: {type(exc).__name__}") from None
