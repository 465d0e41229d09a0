"""`consentry sessions purge`: delete signed-in sessions that ended over a day ago.

Run it from cron (daily is plenty). A session's row is only needed while its cookie might still be
presented; ended ones are kept a day for anyone looking into a sign-out or a revocation.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from core.clock import utcnow
from core.db import transaction
from identity import enrolment
from identity.web_sessions import purge_ended

from .extensions import runtime


@click.group("sessions")
def sessions_group() -> None:
    """Housekeeping of signed-in sessions (citizens, operators, auditors)."""


@sessions_group.command("purge")
@with_appcontext
def purge() -> None:
    """Delete sessions whose absolute lifetime ended more than a day ago, and activations or
    authenticator re-enrolments (identity/enrolment.py) that ended as long ago; print how many."""
    with transaction(runtime().writer_sessions) as session:
        count = purge_ended(session, now=utcnow())
        unfinished = enrolment.purge_ended(session, now=utcnow())
    click.echo(f"{count} ended sessions deleted")
    click.echo(f"{unfinished} ended activations and re-enrolments deleted")
