"""The demo's mail: an aiosmtpd sink on loopback keeping mails in memory, a page listing them
(/demo/mail, registered only by `consentry demo`, never in production), the outbox worker in a
thread, and an email address declared for each demo account so a newcomer sees a notice arrive."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import click
from flask import Blueprint, Flask, current_app, render_template
from sqlalchemy.orm import Session

from core.clock import utcnow
from notifications.sink import SinkHandler, free_port, start_sink
from notifications.worker import run_worker
from profile_store.citizens import find_citizen_by_uinfin
from profile_store.fields import declare

from ..extensions import runtime
from ..security import public
from .sweep import sweep
from .wiring import build_mailer, build_webhooks, citizen_address

bp = Blueprint("demo_mail", __name__, url_prefix="/demo", template_folder="templates")
DEMO_PORT = 8025


@bp.get("/mail")
@public  # demo only: the blueprint exists only in `consentry demo`
def mail():
    handler: SinkHandler = current_app.extensions["consentry_demo_mail"]
    return render_template("notices/demo_mail.html", mails=list(reversed(handler.received())))


@dataclass
class DemoMail:
    controller: object
    stop: threading.Event

    def close(self) -> None:
        self.stop.set()
        self.controller.stop()  # type: ignore[attr-defined]


def start_demo_mail(app: Flask, uinfins: list[str], *, worker: bool = True) -> DemoMail:
    """Start the sink (port 8025, or a free one), point SMTP_URL at it, register /demo/mail,
    give the demo accounts an address, and start the worker (every 2 s)."""
    rt = runtime()
    try:
        controller = start_sink(SinkHandler(), port=DEMO_PORT)
    except (OSError, RuntimeError):
        controller = start_sink(SinkHandler(), port=free_port())
    rt.config = rt.config.replace(smtp_url=f"smtp://127.0.0.1:{controller.port}")
    app.extensions["consentry_demo_mail"] = controller.handler
    app.register_blueprint(bp)
    with rt.sessions() as session:
        _declare_addresses(session, uinfins)
        session.commit()
    stop = threading.Event()
    if not worker:  # tests deliver by hand
        return DemoMail(controller, stop)
    threading.Thread(
        target=run_worker,
        args=(rt.writer_sessions, build_mailer(rt)),
        kwargs={
            "worker": "demo",
            "every": dt.timedelta(seconds=2),
            "stop": stop,
            "clock": utcnow,
            "on_error": lambda exc: click.echo(f"  (notice delivery failed, retrying: {type(exc).__name__})"),
            "webhooks": build_webhooks(rt),
            "chores": lambda now: _in_context(app, sweep, rt, now=now),
        },
        name="demo-notices",
        daemon=True,
    ).start()
    return DemoMail(controller, stop)


def _declare_addresses(session: Session, uinfins: list[str]) -> None:
    rt = runtime()
    for uinfin in uinfins:
        citizen = find_citizen_by_uinfin(session, vault=rt.vault, uinfin=uinfin)
        if citizen is None or citizen_address(rt, session, citizen.id) is not None:
            continue
        address = {"value": f"{uinfin.lower()}@demo.consentry.localhost"}
        declare(
            session,
            vault=rt.vault,
            catalogue=rt.catalogue,
            citizen=citizen,
            attribute="email",
            value=address,
            now=utcnow(),
        )


def _in_context(app: Flask, work, *args, **kwargs):
    with app.app_context():  # the worker thread has none; the audit append reads the runtime
        return work(*args, **kwargs)
