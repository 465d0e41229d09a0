"""`consentry oauth purge`: delete expired authorisation requests, codes and issued tokens.

Run it from cron (hourly is plenty). Every release those records allowed stays in the audit log.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from consent.grants import purge_expired
from core.clock import utcnow
from core.db import transaction

from .extensions import runtime


@click.group("oauth")
def oauth_group() -> None:
    """Housekeeping of the authorisation-code grant's records."""


@oauth_group.command("purge")
@with_appcontext
def purge() -> None:
    """Delete grant records that expired more than a day ago; print how many of each."""
    with transaction(runtime().writer_sessions) as session:
        counts = purge_expired(session, now=utcnow())
    click.echo(", ".join(f"{count} {name}" for name, count in counts.items()) + " deleted")
