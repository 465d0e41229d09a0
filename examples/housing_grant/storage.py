"""The agency's own database (SQLite, through the standard library): journeys and applications.

A journey is one browser's way through the form. It holds, server-side, what must never sit in a
cookie: the pending sign-in (PKCE verifier, nonce, DPoP key) and the details retrieved from Myinfo.
The browser's session cookie carries only the journey's random id. A pending sign-in is taken
(read and deleted) once, so a reloaded or replayed callback finds nothing to redeem.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS journey (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    flow TEXT,              -- "v4" or "v5": how the details were (or are being) retrieved
    pending TEXT,           -- JSON: the sign-in under way, until its callback
    person TEXT             -- JSON: the items retrieved from Myinfo, as received
);
CREATE TABLE IF NOT EXISTS application (
    reference TEXT PRIMARY KEY,
    submitted_at TEXT NOT NULL,
    flow TEXT,              -- NULL when nothing was retrieved
    answers TEXT NOT NULL   -- JSON: {item: {"source": "myinfo" | "applicant", "value": ...}}
);
"""
PENDING_FOR = dt.timedelta(minutes=10)  # a sign-in left longer than this has expired
KEEP_JOURNEYS_FOR = dt.timedelta(days=1)  # then an unfinished form's retrieved details are deleted
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


@dataclass(frozen=True)
class Retrieved:
    flow: str
    person: dict[str, Any]


class Store:
    """One SQLite file; a connection per call, so it is safe under a threaded server."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        with self._connection() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:  # `with db`: one transaction
            yield db

    def new_journey(self, now: dt.datetime) -> str:
        """A new journey; journeys abandoned more than a day ago go, with any details they held."""
        journey_id = secrets.token_urlsafe(24)
        with self._connection() as db:
            db.execute("DELETE FROM journey WHERE created_at < ?", ((now - KEEP_JOURNEYS_FOR).isoformat(),))
            db.execute("INSERT INTO journey (id, created_at) VALUES (?, ?)", (journey_id, now.isoformat()))
        return journey_id

    def begin_sign_in(self, journey_id: str, *, flow: str, pending: dict[str, Any], now: dt.datetime) -> None:
        """Remember the sign-in under way; any details retrieved before are dropped."""
        with self._connection() as db:
            db.execute(
                "UPDATE journey SET flow = ?, pending = ?, person = NULL, created_at = ? WHERE id = ?",
                (flow, json.dumps(pending), now.isoformat(), journey_id),
            )

    def take_pending(self, journey_id: str, *, now: dt.datetime) -> tuple[str, dict[str, Any]] | None:
        """The sign-in under way (flow, its data), deleted as it is read; None if there is none or
        it has expired."""
        with self._connection() as db:
            row = db.execute(
                "SELECT flow, pending, created_at FROM journey WHERE id = ? AND pending IS NOT NULL",
                (journey_id,),
            ).fetchone()
            # Only one of two concurrent callbacks clears the very value it read.
            taken = (
                row is not None
                and db.execute(
                    "UPDATE journey SET pending = NULL WHERE id = ? AND pending = ?", (journey_id, row[1])
                ).rowcount
                == 1
            )
        if not taken:
            return None
        if dt.datetime.fromisoformat(row[2]) + PENDING_FOR < now:
            return None
        return row[0], json.loads(row[1])

    def save_person(self, journey_id: str, person: dict[str, Any]) -> None:
        with self._connection() as db:
            db.execute("UPDATE journey SET person = ? WHERE id = ?", (json.dumps(person), journey_id))

    def retrieved(self, journey_id: str | None) -> Retrieved | None:
        if not journey_id:
            return None
        with self._connection() as db:
            row = db.execute(
                "SELECT flow, person FROM journey WHERE id = ? AND person IS NOT NULL", (journey_id,)
            ).fetchone()
        return Retrieved(row[0], json.loads(row[1])) if row else None

    def forget_person(self, journey_id: str) -> None:
        with self._connection() as db:
            db.execute("UPDATE journey SET person = NULL WHERE id = ?", (journey_id,))

    def submit(
        self, journey_id: str | None, *, flow: str | None, answers: dict[str, Any], now: dt.datetime
    ) -> str:
        """Store the application and end the journey, in one transaction; returns its reference."""
        reference = "HG-" + "-".join(
            "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4)) for _ in range(2)
        )
        with self._connection() as db:
            db.execute(
                "INSERT INTO application (reference, submitted_at, flow, answers) VALUES (?, ?, ?, ?)",
                (reference, now.isoformat(), flow, json.dumps(answers)),
            )
            db.execute("DELETE FROM journey WHERE id = ?", (journey_id,))
        return reference

    def application(self, reference: str) -> dict[str, Any] | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT submitted_at, flow, answers FROM application WHERE reference = ?", (reference,)
            ).fetchone()
        if row is None:
            return None
        return {"reference": reference, "submitted_at": row[0], "flow": row[1], "answers": json.loads(row[2])}
