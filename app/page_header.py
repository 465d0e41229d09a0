"""What every page's header needs to know: whether a citizen is signed in, and their name for
"Your account". Staff links (operator, agency apps, auditor) are shown only to signed-in staff; the
operator's and auditor's blueprints already say whether one is signed in.

The name is read only when a template asks for it, once per request, in a short session of its own
(an error page must still render if the request's transaction failed).
"""

from __future__ import annotations

from flask import g
from sqlalchemy.exc import SQLAlchemyError

from core.errors import CryptoError
from profile_store.assembly import load_fields
from profile_store.models import Citizen

from .extensions import runtime
from .identity import current_citizen_id

_NAME = "consentry_account_name"


def header_context() -> dict[str, object]:
    return {"citizen_signed_in": current_citizen_id() is not None, "account_name": account_name}


def account_name() -> str | None:
    """The signed-in citizen's name as the identity registry holds it, or None (nobody signed in,
    or no name held)."""
    if _NAME not in g:
        g.setdefault(_NAME, _read_name())
    return g.get(_NAME)


def _read_name() -> str | None:
    citizen_id = current_citizen_id()
    if citizen_id is None:
        return None
    rt = runtime()
    try:
        with rt.sessions() as session:
            citizen = session.get(Citizen, citizen_id)
            if citizen is None:
                return None
            views = load_fields(
                session, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attributes=["name"]
            )
    except (SQLAlchemyError, CryptoError):
        return None
    view = views.get("name")
    if view is None or view.unavailable:
        return None
    return str(view.item.get("value") or "").strip() or None
