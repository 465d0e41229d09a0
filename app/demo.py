"""`consentry demo`: the whole platform on one machine, from an empty directory.

Creates and migrates the database, starts the simulated agencies on loopback, seeds demo citizens and
fetches their profiles, gives three of them published sign-in credentials, adds a demo app admin,
operator and auditor, starts the audit checkpoint signer in a thread, then serves the site on
localhost until Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import webbrowser
from urllib.parse import urlsplit, urlunsplit

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from werkzeug.serving import make_server

from agency_connectors.simulators import default_config, start_simulators
from audit.checkpointer import CheckpointPolicy, run_signer
from audit.integrator import run_integrator
from consent.apps import register_app, update_app
from consent.models import AgencyApp
from core.clock import utcnow
from core.uinfin import demo_uinfin

from .citizens_cli import demo_accounts_table, seed_demo_accounts
from .cli import upgrade_database
from .config import PROJECT_ROOT
from .extensions import runtime
from .notices.demo_mail import start_demo_mail
from .staff_cli import demo_staff_table, seed_demo_staff
from .witness_cli import start_demo_witness

EXAMPLE_APP = PROJECT_ROOT / "examples" / "agency-app.json"


@click.command("demo")
@click.option("--port", default=5000, show_default=True, help="Port for the site on 127.0.0.1.")
@click.option("--citizens", default=25, show_default=True, help="Demo citizens to seed.")
@click.option("--agency-port", default=3001, show_default=True, help="Port for the demo agency app.")
@click.option("--open-browser/--no-open-browser", default=True, show_default=True)
@with_appcontext
def demo(port: int, citizens: int, agency_port: int, open_browser: bool) -> None:
    """Start everything: database, simulated agencies, demo data and the site."""
    rt = runtime()
    upgrade_database()  # as MIGRATION_DATABASE_URL's owner, then APP_DB_ROLE granted
    agency_url = urlsplit(rt.config.agencies[0].url)
    simulators = start_simulators(
        default_config(), host=agency_url.hostname or "127.0.0.1", port=agency_url.port or 8700
    )
    click.echo(f"simulated agencies at {simulators.base_url}")
    ctx = click.get_current_context()
    from .cli import seed

    ctx.invoke(seed, count=citizens, refresh=True)
    demo_accounts = seed_demo_accounts()
    seed_demo_staff()
    site = f"http://127.0.0.1:{port}/"
    if not os.environ.get("PUBLIC_BASE_URL"):
        rt.config = rt.config.replace(public_base_url=site.rstrip("/"))
    seed_example_app(agency_port)
    demo_mail = start_demo_mail(current_app._get_current_object(), demo_accounts)  # sink, worker
    server = make_server("127.0.0.1", port, current_app._get_current_object(), threaded=True)
    agency_server = _serve_demo_agency_app(rt.config.public_base_url, agency_port)
    stop_signer = _start_checkpoint_signer()
    if not rt.config.audit_witnesses:  # a witness on loopback, so checkpoints come cosigned
        click.echo(f"demo witness (cosigns checkpoints): {start_demo_witness(rt, stop_signer)}")
    click.echo("")
    click.echo(f"Consentry demo is running at {site}")
    click.echo(f"  staff sign-in:     {site}staff/sign-in   (new codes: consentry staff demo-codes)")
    Console().print(demo_staff_table())
    click.echo(f"  demo national ids: {', '.join(demo_uinfin(n) for n in range(min(citizens, 5)))}")
    if demo_accounts:
        click.echo(f"  citizen sign-in:   {site}citizen/sign-in   (new codes: consentry citizens demo-codes)")
        Console().print(demo_accounts_table(demo_accounts))
    if agency_server is not None:
        click.echo(f"  demo agency app:   http://127.0.0.1:{agency_port}/   (pre-fills a form via Consentry)")
    click.echo(f"  demo mail:         {site}demo/mail   (the notices citizens get)")
    click.echo("  (synthetic people; press Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(site)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop_signer.set()
        demo_mail.close()
        server.server_close()
        if agency_server is not None:
            agency_server.shutdown()
        simulators.stop()


def _start_checkpoint_signer() -> threading.Event:
    """Sign audit checkpoints in a daemon thread (every AUDIT_CHECKPOINT_EVERY entries, or 5
    seconds after the last one), so the auditor's proofs and whole-log export work on first
    visit; with AUDIT_INTEGRATION=batched, integrate queued entries in another. Returns the event
    that stops them."""
    rt, stop = runtime(), threading.Event()
    policy = CheckpointPolicy(dt.timedelta(seconds=5), rt.config.audit_checkpoint_every)
    thread = threading.Thread(
        target=run_signer,
        args=(rt.writer_sessions,),
        kwargs={
            "signer": rt.audit_signer,
            "policy": policy,
            "stop": stop,
            "clock": utcnow,
            "on_error": lambda exc: click.echo(
                f"  (checkpoint signing failed, retrying: {type(exc).__name__})"
            ),
        },
        name="demo-checkpoint-signer",
        daemon=True,
    )
    thread.start()
    if rt.config.audit_integration == "batched":
        _start_integrator(stop)
    return stop


def _start_integrator(stop: threading.Event) -> None:
    """Integrate queued audit entries in a daemon thread (AUDIT_INTEGRATION=batched), as
    `consentry audit integrate --every AUDIT_INTEGRATE_EVERY_S` would, until `stop` is set."""
    rt = runtime()
    threading.Thread(
        target=run_integrator,
        args=(rt.writer_sessions,),
        kwargs={
            "stop": stop,
            "every_s": rt.config.audit_integrate_every_s,
            "on_error": lambda exc: click.echo(
                f"  (audit integration failed, retrying: {type(exc).__name__})"
            ),
        },
        name="demo-audit-integrator",
        daemon=True,
    ).start()


def seed_example_app(agency_port: int = 3001) -> None:
    """Register (or refresh) the example agency app of examples/agency-app.json, its loopback
    redirect URIs on `agency_port` (`--agency-port`), where the demo agency app listens: the
    document's 3001 is only the default."""
    rt = runtime()
    document = json.loads(EXAMPLE_APP.read_text())
    document["redirect_uris"] = [_on_port(uri, agency_port) for uri in document["redirect_uris"]]
    with rt.sessions() as session:
        exists = session.get(AgencyApp, document["client_id"]) is not None
        change = update_app if exists else register_app
        change(session, document=document, catalogue=rt.catalogue, now=utcnow())
        session.commit()


def _on_port(uri: str, port: int) -> str:
    parts = urlsplit(uri)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return uri
    return urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))


def _serve_demo_agency_app(consentry_url: str, port: int):
    """The demo agency app on 127.0.0.1:`port` in a thread; None when its extras are missing."""
    try:
        from examples.housing_grant.app import create_demo_agency_app
    except ImportError:
        click.echo("  (demo agency app skipped: pip install -e '.[examples]')")
        return None
    agency_app = create_demo_agency_app(consentry_url, base_url=f"http://127.0.0.1:{port}")
    agency_server = make_server("127.0.0.1", port, agency_app, threaded=True)
    threading.Thread(target=agency_server.serve_forever, name="demo-agency-app", daemon=True).start()
    return agency_server
