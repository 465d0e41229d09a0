"""The citizen's "My declarations" pages: every declarable attribute with their declaration, a form
per attribute built from the catalogue (profile_store/declarations.py), and removing one after a
confirmation page.

Each post carries the CSRF token and the version of the declaration the citizen saw: the same
answers sent twice change nothing, a declaration changed in another tab since is a clear message,
never a silent overwrite. A change and its audit entry (`declaration_changed`, the attribute's name
only) commit together. The citizen is the signed-in one: no URL names a citizen.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from core.clock import utcnow
from core.errors import Conflict, ValidationFailed
from profile_store import declarations as service
from profile_store.citizens import get_citizen

from ..auditing import record
from ..extensions import db, runtime
from ..identity import citizen_required
from ..operator.schemas import FormSchema
from ..value_format import readable_case
from .declaration_display import shown_declarations
from .views import bp

MAX_ANSWER = 2000  # longer than any input allows: the service says "too long" up to here


def _form_schema(form: service.DeclarationForm, *, with_answers: bool = True) -> Schema:
    """The post of one attribute's form: its answers (strings), the version seen, nothing else."""
    answers = form.all_names() if with_answers else []
    declared = {
        name: fields.String(load_default="", validate=validate.Length(max=MAX_ANSWER)) for name in answers
    }
    declared["version"] = fields.Integer(required=True, strict=False, validate=validate.Range(0, 2**31))
    return FormSchema.from_dict(declared, name="DeclarationForm")(unknown=RAISE)


@bp.get("/declarations")
@citizen_required
def declarations():
    rt, store = runtime(), db()
    mine = service.declarations_of(store, vault=rt.vault, citizen=get_citizen(store, g.citizen_id))
    rows = [(a, mine.get(a.name)) for a in service.declarable(rt.catalogue)]
    return render_template("citizen/declarations.html", rows=rows, shown=_shown(rt.catalogue, mine))


@bp.route("/declarations/<attribute>", methods=["GET", "POST"])
@citizen_required
def declaration(attribute: str):
    rt, store, now = runtime(), db(), utcnow()
    form = service.declaration_form(rt.catalogue, attribute)
    citizen = get_citizen(store, g.citizen_id)
    current = service.declarations_of(store, vault=rt.vault, citizen=citizen).get(attribute)
    version, value = (current.version, current.value) if current else (0, None)
    if request.method == "GET":
        return _form_page(form, service.answers_of(form, value), {}, version)
    try:
        posted = _form_schema(form).load(request.form)
    except ValidationError as exc:
        return _form_page(
            form, _entered(form), _field_errors(exc.messages, form.all_names()), version, status=400
        )
    answers, seen = {k: v for k, v in posted.items() if k != "version"}, posted["version"]
    change = service.change_declaration if seen else service.declare
    extra = {"version": seen} if seen else {}
    try:
        _saved, changed = change(
            store, vault=rt.vault, catalogue=rt.catalogue, citizen=citizen, attribute=attribute,
            answers=answers, now=now, **extra,
        )  # fmt: skip
    except ValidationFailed as exc:
        store.rollback()
        return _form_page(form, answers, exc.errors, seen, status=400)
    except Conflict:
        store.rollback()
        return _form_page(form, answers, {"version": ["conflict"]}, version, status=409)
    if changed:
        outcome = service.CHANGED if seen else service.ADDED
        record(store, service.declaration_event(citizen, attribute, outcome))
    store.commit()
    flash(f"saved:{attribute}", "declarations")
    return redirect(url_for(".declarations"), 303)


@bp.route("/declarations/<attribute>/remove", methods=["GET", "POST"])
@citizen_required
def remove_declaration(attribute: str):
    rt, store = runtime(), db()
    form = service.declaration_form(rt.catalogue, attribute)
    citizen = get_citizen(store, g.citizen_id)
    mine = service.declarations_of(store, vault=rt.vault, citizen=citizen)
    if request.method == "GET":
        if attribute not in mine:
            return render_template("citizen/declaration_remove.html", form=form, declared=None, version=0)
        shown = _shown(rt.catalogue, mine)[attribute]
        return render_template(
            "citizen/declaration_remove.html", form=form, declared=shown, version=mine[attribute].version
        )
    try:
        posted = _form_schema(form, with_answers=False).load(request.form)
        removed = service.remove_declaration(
            store, catalogue=rt.catalogue, citizen=citizen, attribute=attribute,
            version=posted["version"], now=utcnow(),
        )  # fmt: skip
    except (ValidationError, Conflict):
        store.rollback()
        flash(f"conflict:{attribute}", "declarations")
        return redirect(url_for(".declarations"), 303)
    if removed:
        record(store, service.declaration_event(citizen, attribute, service.REMOVED))
    store.commit()
    flash(f"removed:{attribute}", "declarations")
    return redirect(url_for(".declarations"), 303)


def _form_page(form, answers: dict, errors: dict, version: int, *, status: int = 200):
    page = render_template(
        "citizen/declaration_form.html",
        form=form,
        answers=answers,
        errors=errors,
        version=version,
        readable=readable_case,
    )
    return page, status


def _entered(form: service.DeclarationForm) -> dict[str, str]:
    """What the citizen typed, cut to a safe length, to show again beside the errors."""
    return {name: str(request.form.get(name, ""))[:MAX_ANSWER] for name in form.all_names()}


def _field_errors(messages: dict, names: list[str]) -> dict[str, list[str]]:
    """Schema errors as the page's codes: too long by field, anything else about the form itself."""
    errors: dict[str, list[str]] = {}
    for name in messages:
        if name in names:
            errors[name] = ["too_long"]
        else:
            errors["form"] = ["bad_form"]
    return errors


def _shown(catalogue, mine: dict) -> dict:
    """Each declaration in words, as the profile shows it."""
    return shown_declarations(catalogue, mine, now=utcnow())
