"""`consentry auditor ...`: the commands of the older auditor accounts. Auditors are staff with the
auditor role since migration 0025 (app/staff_cli.py), so each command only says which staff
command does its job now, and fails: a script that still calls it must not pass silently."""

from __future__ import annotations

import sys

import click
from rich.console import Console

console = Console(stderr=True)

STAFF_COMMANDS = {
    "create": "consentry staff add {username} --role auditor",
    "disable": "consentry staff disable {username}",
}


@click.group("auditor")
def auditor_group() -> None:
    """Gone: auditors are staff with the auditor role (`consentry staff ...`)."""


def _moved(command: str, username: str) -> None:
    console.print("Auditor accounts are staff accounts with the auditor role now. Run instead:")
    click.echo(STAFF_COMMANDS[command].format(username=username))
    sys.exit(2)


@auditor_group.command("create")
@click.argument("username")
def create(username: str) -> None:
    """Gone: use `consentry staff add USERNAME --role auditor`."""
    _moved("create", username)


@auditor_group.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Gone: use `consentry staff disable USERNAME`."""
    _moved("disable", username)
