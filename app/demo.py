"""`consentry demo`: the whole platform on one machine, from an empty directory.

Creates and migrates the database, starts the simulated agencies on loopback, seeds demo citizens and
fetches their profiles, gives three of them published sign-in credentials, then serves the site on
localhost until Ctrl-C.
"""

from __future__ import annotations

import webbrowser
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from werkzeug.serving import make_server

from agency_connectors.simulators import default_config, start_simulators
from core import migrate
from core.uinfin import demo_uinfin

from .citizens_cli import demo_accounts_table, seed_demo_accounts
from .extensions import runtime


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port for the site on 127.0.0.1.")
@click.option("--citizens", default=25, show_default=True, help="Demo citizens to seed.")
@click.option("--open-browser/--no-open-browser", default=True, show_default=True)
@with_appcontext
def demo(port: int, citizens: int, open_browser: bool) -> None:
    """Start everything: database, simulated agencies, demo data and the site."""
    rt = runtime()
    migrate.upgrade(rt.engine)
    agency_url = urlsplit(rt.config.agencies[0].url)
    simulators = start_simulators(
        default_config(), host=agency_url.hostname or "127.0.0.1", port=agency_url.port or 8700
    )
    click.echo(f"simulated agencies at {simulators.base_url}")
    ctx = click.get_current_context()
    from .cli import seed

    ctx.invoke(seed, count=citizens, refresh=True)
    demo_accounts = seed_demo_accounts()
    server = make_server("127.0.0.1", port, current_app._get_current_object(), threaded=True)
    site = f"http://127.0.0.1:{port}/"
    click.echo("")
    click.echo(f"Consentry demo is running at {site}")
    click.echo(f"  operator page:     {site}operator/   password: {rt.config.operator_password}")
    click.echo(f"  demo national ids: {', '.join(demo_uinfin(n) for n in range(min(citizens, 5)))}")
    if demo_accounts:
        click.echo(f"  citizen sign-in:   {site}citizen/sign-in   (new codes: consentry citizens demo-codes)")
        Console().print(demo_accounts_table(demo_accounts))
    click.echo("  (synthetic people; press Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(site)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        simulators.stop()
