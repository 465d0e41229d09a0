"""A citizen's own declarations: adding, changing and removing one (source "2"), from the answers
to its form (profile_store/declaration_forms.py, which this module re-exports for callers).

A declaration is kept apart from agency values (`declarations`), so it never replaces or hides a
government-verified value. Every change keeps the value it replaces in `field_versions` (origin
"citizen"), which the citizen's history reads. Nothing here commits; the caller owns the
transaction and audits the change (`declaration_event`) in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from audit.log import Event
from core.errors import Conflict

from .catalogue import Catalogue
from .declaration_forms import KINDS as KINDS
from .declaration_forms import DeclarationForm as DeclarationForm
from .declaration_forms import Input as Input
from .declaration_forms import answers_of as answers_of
from .declaration_forms import declarable as declarable
from .declaration_forms import declaration_form, parse_answers
from .fields import DECLARED, archive_declaration
from .models import Citizen, Declaration, FieldVersion
from .vault import Vault, field_aad

ADDED, CHANGED, REMOVED = "declared", "changed", "removed"


@dataclass(frozen=True, slots=True)
class Declared:
    """One current declaration: its version (what a form post says it saw), value and time."""

    version: int
    value: Any
    declared_at: dt.datetime


def declarations_of(session: Session, *, vault: Vault, citizen: Citizen) -> dict[str, Declared]:
    """The citizen's current declarations by attribute. Raises CryptoError if a ciphertext fails
    authentication. Reads only, in the caller's transaction."""
    rows = list(session.scalars(select(Declaration).where(Declaration.citizen_id == citizen.id)))
    cipher = vault.cipher_for(citizen)
    values = cipher.decrypt_json_many(
        [(r.ciphertext, field_aad(citizen.id, r.attribute, DECLARED, r.version)) for r in rows]
    )
    return {r.attribute: Declared(r.version, v, r.declared_at) for r, v in zip(rows, values, strict=True)}


def declare(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    attribute: str,
    answers: Mapping[str, str],
    now: dt.datetime,
) -> tuple[Declaration, bool]:
    """Add a declaration from the form's answers. Returns it and whether anything changed: the same
    answers sent twice (a double submit) change nothing. Raises NotFound for an attribute that
    cannot be declared, ValidationFailed (codes by field) for bad answers, Conflict when a
    different declaration already exists. Flushes, in the caller's transaction."""
    return _save(session, vault, catalogue, citizen, attribute, answers, expected=0, now=now)


def change_declaration(
    session: Session,
    *,
    vault: Vault,
    catalogue: Catalogue,
    citizen: Citizen,
    attribute: str,
    answers: Mapping[str, str],
    version: int,
    now: dt.datetime,
) -> tuple[Declaration, bool]:
    """Replace the declaration the citizen saw (`version`), keeping the old value in the history.
    Sending the same answers again changes nothing; a declaration changed since (another tab)
    raises Conflict. Otherwise as `declare`."""
    return _save(session, vault, catalogue, citizen, attribute, answers, expected=version, now=now)


def remove_declaration(
    session: Session,
    *,
    catalogue: Catalogue,
    citizen: Citizen,
    attribute: str,
    version: int,
    now: dt.datetime,
) -> bool:
    """Remove the declaration the citizen saw (`version`); its value stays in the history. Returns
    False, changing nothing, when there is none (already removed: a double submit). Raises NotFound
    for an attribute that cannot be declared, Conflict when it changed since. Flushes only."""
    declaration_form(catalogue, attribute)
    existing = _locked(session, citizen.id, attribute)
    if existing is None:
        return False
    if existing.version != version:
        raise Conflict("Your declaration changed since you opened this page. Check it and try again.")
    archive_declaration(session, existing, now)
    session.delete(existing)
    session.flush()
    return True


def declaration_event(citizen: Citizen, attribute: str, outcome: str) -> Event:
    """The audit entry of a change: the attribute's name and what happened, never the value."""
    return Event(
        kind="declaration_changed",
        citizen_ref=citizen.uinfin_digest,
        outcome=outcome,
        attributes=(attribute,),
        details={"by": "citizen"},
    )


def _save(session, vault, catalogue, citizen, attribute, answers, *, expected, now):
    form = declaration_form(catalogue, attribute)
    value = parse_answers(form, answers, now=now)
    cipher = vault.cipher_for(citizen)
    existing = _locked(session, citizen.id, attribute)
    if existing is not None:
        current = cipher.decrypt_json(
            existing.ciphertext, field_aad(citizen.id, attribute, DECLARED, existing.version)
        )
        if current == value:
            return existing, False  # the same answers again: nothing to do
        if existing.version != expected:
            raise Conflict("Your declaration changed since you opened this page. Check it and try again.")
        archive_declaration(session, existing, now)
        existing.version += 1
    elif expected:
        raise Conflict("Your declaration was removed since you opened this page.")
    else:
        # A declaration removed earlier left versions behind: carry on after them, so no two
        # values of this attribute are ever sealed with the same associated data.
        last = session.scalar(
            select(func.max(FieldVersion.version)).where(
                FieldVersion.citizen_id == citizen.id,
                FieldVersion.attribute == attribute,
                FieldVersion.origin == DECLARED,
            )
        )
        existing = Declaration(citizen_id=citizen.id, attribute=attribute, version=(last or 0) + 1)
        session.add(existing)
    existing.declared_at = now
    existing.ciphertext = cipher.encrypt_json(
        value, field_aad(citizen.id, attribute, DECLARED, existing.version)
    )
    session.flush()
    return existing, True


def _locked(session: Session, citizen_id: str, attribute: str) -> Declaration | None:
    # The row lock makes two concurrent posts (two tabs, a double click) apply one after the other.
    query = select(Declaration).where(
        Declaration.citizen_id == citizen_id, Declaration.attribute == attribute
    )
    return session.scalar(query.with_for_update().execution_options(populate_existing=True))
