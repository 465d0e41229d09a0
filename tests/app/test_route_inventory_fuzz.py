"""Every route, every method, hostile input: never a 5xx (issue 12, "make the class impossible").

The routes come from `app.url_map` itself, so a new route is fuzzed the day it is added, with no
list to update. Each rule is sent, with and without a signed-in citizen or member of staff:

- every method, allowed or not (GET, POST, PUT, DELETE, PATCH, TRACE, OPTIONS, HEAD);
- its path variables filled with hostile values for their converter: numbers past 64 bits and
  negative, NUL, invalid UTF-8 (%C3%28, %FF), 10,000 characters, '../', right-to-left marks;
- a query string with every common parameter twice, huge numbers, invalid UTF-8, and one with NUL;
- to each method it takes with a body: forms (with the session's CSRF token, so the views run)
  holding NUL, invalid UTF-8 and 10,000 characters; JSON that is an array, a string, nested
  100,000 deep, not JSON; wrong and malformed content types; a body over MAX_CONTENT_LENGTH,
  declared and chunked (the limit is lowered to LIMIT for the test, so that stays cheap).

Through the Flask test client (no server), bounded to a few thousand requests: seconds, not
minutes. A failure names each request that got a 5xx or raised, so the class can be fixed where
it lives (app/errors.py, app/request_guards.py), not route by route.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import session as flask_session
from flask import url_for

from tests.factories import make_citizen, make_staff

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "HEAD")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
LONG = "x" * 10_000
# MAX_CONTENT_LENGTH while fuzzing: bodies past it stay cheap to send (the deepest JSON fits).
LIMIT = 256 * 1024
# Path segments, already percent-encoded where the raw character could not travel in a URL.
HOSTILE_TEXT = (
    "%00",
    "%C3%28",
    "%FF",
    LONG,
    "..%2F..%2Fetc%2Fpasswd",
    "../",
    quote("\u202ee\u0301\u4e2d"),
    "-1",
)
HOSTILE_INT = ("-1", str(2**63), str(2**64), "9" * 400, "%00", "0")
HOSTILE_UUID = ("%00", "not-a-uuid", LONG)
# Parameters the views read somewhere; each sent twice, with values no form would hold.
COMMON_PARAMS = (
    "next", "cursor", "limit", "scope", "client_id", "redirect_uri", "state", "nonce", "format",
    "seq", "tree_size", "first", "second", "kind", "from", "to", "request_uri", "uinfin", "sub",
    "subentity", "purpose_id", "code", "code_challenge", "response_type", "reason", "username",
    "password", "citizen_ref", "app_id", "decision", "attributes", "remember",
)  # fmt: skip
ODD_VALUES = (str(2**64), "-1", "%C3%28", "%FF", LONG[:3000], "\u202e\u4e2d", "", "1e309")
# Pages only a signed-in principal of that kind may open.
LANDING = {"citizen": ("citizen.landing",), "staff": ("operator.search", "admin.apps", "auditor.search")}
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
CONVERTER = re.compile(r"<(?:(?P<kind>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


@dataclass
class Tally:
    sent: int = 0
    failures: list[str] = field(default_factory=list)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)  # (who, status class)
    got: dict[str, int] = field(default_factory=dict)  # status of each plain GET, by path
    who: str = ""

    def check(self, client, method: str, path: str, **kwargs: Any) -> None:
        self.sent += 1
        label = f"{self.who}: {method} {path[:120]} {kwargs.get('content_type', '')}"
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as exc:  # an exception escaping every handler: the worst kind of 500
            self.failures.append(f"{label} -> raised {type(exc).__name__}: {str(exc)[:200]}")
            return
        self.answered[self.who, response.status_code // 100] += 1
        if method == "GET" and not kwargs:
            self.got[path] = response.status_code
        if response.status_code >= 500:
            self.failures.append(f"{label} -> {response.status_code} {response.get_data()[:200]!r}")
        response.close()  # a file sent as it is (a stylesheet) holds its file open until then


def segments(kind: str | None, args: str | None, good: dict[str, str]) -> tuple[str, ...]:
    """Values for one path variable: one that may exist (so the view runs), then hostile ones."""
    if kind == "int":
        return (good["int"], *HOSTILE_INT)
    if kind == "uuid":
        return (good["uuid"], *HOSTILE_UUID)
    if kind == "any":  # <any(a, b):name>: one of its own words, then the usual garbage
        return (args.split(",")[0].strip().strip("'\""), *HOSTILE_TEXT)
    return (good["text"], *HOSTILE_TEXT)


def paths(rule, good: dict[str, str]) -> Iterator[str]:
    """The rule's path with each variable filled, first with plausible values, then with each
    hostile value in turn (one variable at a time: the others stay plausible)."""
    found = list(CONVERTER.finditer(rule.rule))
    choices = [segments(m["kind"], m["args"], good) for m in found]

    def build(picks: list[str]) -> str:
        out, at = [], 0
        for match, value in zip(found, picks, strict=True):
            out += [rule.rule[at : match.start()], value]
            at = match.end()
        return "".join([*out, rule.rule[at:]])

    plausible = [values[0] for values in choices]
    yield build(plausible)
    for index, values in enumerate(choices):
        for value in values[1:]:
            yield build([*plausible[:index], value, *plausible[index + 1 :]])


def odd_query() -> str:
    """Every common parameter twice, with odd values; one of them 3,000 characters long (one is
    enough to find a view that chokes on length, and every request quotes the whole string)."""
    pairs = [f"{name}={value}" for name in COMMON_PARAMS for value in ODD_VALUES[:2]]
    odd = [value for value in ODD_VALUES[2:] if value != LONG[:3000]]
    pairs += [f"{name}={odd[i % len(odd)]}" for i, name in enumerate(COMMON_PARAMS)]
    return "&".join([*pairs, f"next={LONG[:3000]}"])


def bodies(csrf: str) -> Iterator[dict[str, Any]]:
    """What goes to a method that takes a body: as `client.open` keyword arguments."""
    token = f"csrf_token={csrf}&"
    form = "application/x-www-form-urlencoded"
    fields = "&".join(f"{name}={ODD_VALUES[i % len(ODD_VALUES)]}" for i, name in enumerate(COMMON_PARAMS))
    yield {"data": token + fields, "content_type": form}
    yield {
        "data": token + "&".join(f"{name}={name}" for name in COMMON_PARAMS[:8]) + "&uinfin=S1234567D%00",
        "content_type": form,
    }
    yield {"data": (token + "a=%C3%28&b=%FF&" + fields).encode() + b"&raw=\xff\xfe", "content_type": form}
    yield {"data": token + fields, "content_type": "application/x-www-form-urlencoded; charset=latin-1"}
    yield {
        "data": b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff',
        "content_type": "multipart/form-data",
    }
    yield {"data": b"[1, 2, 3]", "content_type": "application/json"}
    yield {"data": b'"just a string"', "content_type": "application/json"}
    yield {"data": b"[" * 100_000 + b"]" * 100_000, "content_type": "application/json"}
    yield {"data": b'{"a": 1e999999, "b": ' + b"9" * 5000 + b"}", "content_type": "application/json"}
    yield {"data": b"{not json", "content_type": "text/plain; charset=\xff"}
    yield {"data": token.encode() + b"\x00" * 64, "content_type": "application/octet-stream"}
    # Over the limit: by its declared length (refused before a byte is read), and chunked (no
    # length: the limit trips while the form is read).
    yield {
        "input_stream": io.BytesIO(b""),
        "headers": {"Content-Length": str(LIMIT + 1)},
        "content_type": form,
    }
    yield {
        "input_stream": io.BytesIO(token.encode() + b"a=" + b"x" * LIMIT),
        "environ_overrides": {"wsgi.input_terminated": True},
        "content_type": form,
    }


def csrf_of(client) -> str | None:
    """The CSRF token bound to this client's session, from the first page with a form (the
    sign-out button when signed in, else a sign-in form): so form posts reach their views."""
    for page in ("/", "/citizen/sign-in", "/staff/sign-in"):
        match = CSRF_INPUT.search(client.get(page).get_data(as_text=True))
        if match:
            return match.group(1)
    return None


def sign_in(client, role: str, subject: str, keep: dict[str, Any]) -> None:
    """A server-side session for `subject` as `role`, as a successful sign-in leaves it (the
    sign-in pages are fuzzed like every other route; here they are not the point). `keep` goes
    into it too: the CSRF secret, so one token serves every rule without fetching a page."""
    from app.security import start_web_session

    with client.application.test_request_context():
        start_web_session(role, subject, now=dt.datetime.now(dt.UTC))
        signed_in = dict(flask_session)
    with client.session_transaction() as session:
        session.clear()
        session.update(signed_in, **keep)


def csrf_secret(client) -> dict[str, Any]:
    with client.session_transaction() as session:
        return {name: session[name] for name in ("csrf_token",) if name in session}


def routes_to(adapter, path: str, endpoint: str) -> bool:
    try:
        return adapter.match(path.split("?")[0], method="GET")[0] == endpoint
    except Exception:  # no route, a redirect or 405: the same for everyone
        return False


@pytest.fixture
def principals(app, db_session, runtime) -> dict[str, tuple[str, str] | None]:
    """Who the fuzzer is: nobody, a citizen, a member of staff with every role."""
    citizen = make_citizen(db_session, runtime.vault)
    staff = make_staff(db_session, runtime.config.secret_key, roles=("operator", "admin", "auditor"))
    db_session.commit()
    return {"anonymous": None, "citizen": ("citizen", citizen.id), "staff": ("staff", staff.id)}


def fuzz(app, principals: dict, who: str, tally: Tally) -> None:
    """Every rule as `who`. Signed in, a hostile path that routes nowhere is skipped: its 404 is
    the anonymous caller's, already sent (this keeps the three passes near a third each)."""
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))
    adapter = app.url_map.bind("localhost")
    good = {"int": "1", "uuid": str(uuid.uuid4()), "text": principals["citizen"][1]}
    query = odd_query()
    principal = principals[who]
    client, tally.who = app.test_client(), who
    keep: dict[str, Any] = {}
    if principal is not None:
        sign_in(client, *principal, keep)
    csrf = csrf_of(client)
    keep = csrf_secret(client)
    for rule in rules:
        if principal is not None:
            sign_in(client, *principal, keep)  # again for each rule: one may have signed it out
        path_variants = list(paths(rule, good))
        plausible = path_variants[0]
        if principal is not None:
            routed = [p for p in path_variants[1:] if routes_to(adapter, p, rule.endpoint)]
            path_variants = [plausible, *routed]
        for method in METHODS:
            tally.check(client, method, f"{plausible}?{query}")
        allowed = [m for m in sorted(rule.methods) if m not in ("HEAD", "OPTIONS")]
        for path in path_variants:
            for method in allowed:
                tally.check(client, method, path)
        tally.check(client, "GET", f"{plausible}?x=%00&{query[:200]}")
        for method in (m for m in allowed if m in BODY_METHODS):
            assert csrf is not None, "no page with a form to take a CSRF token from"
            for body in bodies(csrf):
                tally.check(client, method, plausible, **body)


@pytest.mark.parametrize("who", ["anonymous", "citizen", "staff"])
def test_no_route_answers_5xx_to_anything(app, principals, db_session, monkeypatch, who):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", LIMIT)
    tally = Tally()
    fuzz(app, principals, who, tally)
    assert tally.sent > 700, tally.sent
    assert not tally.failures, f"{len(tally.failures)} of {tally.sent} requests failed:\n" + "\n".join(
        tally.failures[:40]
    )
    # The fuzzer got past the guards: signed in, it reached the pages only its role may open
    # (and anonymous, none of them).
    with app.test_request_context():
        pages = {role: [url_for(endpoint) for endpoint in endpoints] for role, endpoints in LANDING.items()}
    if who == "anonymous":
        assert all(tally.got[page] != 200 for role in pages for page in pages[role]), tally.got
    else:
        assert [tally.got.get(page) for page in pages[who]] == [200] * len(pages[who]), tally.got
