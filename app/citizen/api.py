"""The citizen portal's JSON API, for the signed-in citizen only (their browser session):

    GET /api/citizen/disclosures?cursor=&limit=   their access history, newest first, keyset pages
    GET /api/citizen/consents?cursor=&limit=      the consents they gave, newest first, keyset pages

The citizen is whoever app.identity says is signed in; nothing in a request names a citizen, so
nobody can ask for anyone else's history. Not signed in: 401 JSON, never a redirect to a page.
Malformed or unknown parameters: 400 JSON naming the field (app/errors.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, g, request
from marshmallow import ValidationError

from core.clock import utcnow
from core.errors import Unauthorized, ValidationFailed
from profile_store.citizens import get_citizen

from ..extensions import db, runtime
from ..identity import current_citizen_id
from ..security import _guarded
from .portal import consent_records, history
from .schemas import ConsentListOut, HistoryPageOut, HistoryQuery

bp = Blueprint("citizen_api", __name__, url_prefix="/api/citizen")
F = TypeVar("F", bound=Callable)


def citizen_api_required(view: F) -> F:
    """A signed-in citizen (app.identity), else 401 JSON. The id is in `g.citizen_id`."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        citizen_id = current_citizen_id()
        if citizen_id is None:
            raise Unauthorized("sign in as a citizen to use this API")
        g.citizen_id = citizen_id
        return view(*args, **kwargs)

    return _guarded("citizen")(wrapper)  # type: ignore[return-value]


@bp.get("/disclosures")
@citizen_api_required
def disclosures():
    try:
        args = HistoryQuery().load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("invalid query parameters", exc.messages) from None  # type: ignore[arg-type]
    rt, session = runtime(), db()
    citizen = get_citizen(session, g.citizen_id)
    page = history(session, rt.catalogue, citizen=citizen, cursor=args.get("cursor"), limit=args["limit"])
    return HistoryPageOut().dump(page)


@bp.get("/consents")
@citizen_api_required
def consents():
    try:
        args = HistoryQuery().load(request.args.to_dict())
    except ValidationError as exc:
        raise ValidationFailed("invalid query parameters", exc.messages) from None  # type: ignore[arg-type]
    rt, session = runtime(), db()
    page = consent_records(
        session,
        rt.catalogue,
        citizen_id=g.citizen_id,
        cursor=args.get("cursor"),
        limit=args["limit"],
        now=utcnow(),
    )
    return ConsentListOut().dump(page)
