"""Operators' list of notices that used up their attempts (the CLI's `consentry notifications
failed` as a page). Shows the reason codes, never an address: the outbox holds none."""

from __future__ import annotations

from flask import Blueprint, render_template

from notifications.worker import failed_notices

from ..extensions import db
from ..security import operator_required

bp = Blueprint("notices_operator", __name__, url_prefix="/operator/notices", template_folder="templates")


@bp.get("/failed")
@operator_required
def failed():
    return render_template("notices/failed.html", notices=failed_notices(db(), limit=200))
