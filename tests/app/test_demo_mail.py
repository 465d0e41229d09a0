"""The demo's mail sink and its page: registered only by `consentry demo`."""

from __future__ import annotations

import smtplib

from flask import Flask

from app import create_app
from app.notices.demo_mail import start_demo_mail
from app.notices.wiring import citizen_address
from tests.factories import make_citizen


def test_the_demo_mail_page_exists_only_in_the_demo(client):
    assert client.get("/demo/mail").status_code == 404


def test_the_demo_sink_receives_and_the_page_lists_mail(base_config, engine, sessions, db_session):
    app: Flask = create_app(base_config, engine=engine)
    rt = app.extensions["consentry"]
    rt.use_sessions(sessions)
    citizen = make_citizen(db_session, rt.vault)
    db_session.commit()
    from profile_store.citizens import reveal_uinfin

    uinfin = reveal_uinfin(rt.vault, citizen)
    with app.app_context():
        demo = start_demo_mail(app, [uinfin], worker=False)
    try:
        with app.app_context():
            address = citizen_address(rt, db_session, citizen.id)
        assert address == f"{uinfin.lower()}@demo.consentry.localhost"
        port = int(rt.config.smtp_url.rsplit(":", 1)[1])
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.sendmail(
                "no-reply@consentry.localhost",
                [address],
                "Subject: Housing grant application received your details\r\n\r\n"
                "Withdraw:\r\nhttp://127.0.0.1:5000/citizen/withdraw-link/abc.def\r\n",
            )
        page = app.test_client().get("/demo/mail")
        assert page.status_code == 200
        assert "Housing grant application received your details" in page.text
        assert 'href="http://127.0.0.1:5000/citizen/withdraw-link/abc.def"' in page.text
    finally:
        demo.close()
        rt.close()
