# ruff: noqa: RUF001 - Chinese punctuation (full-width colons, brackets) is the point here
"""Mails in the citizen's language, through the app: the picker stores a signed-in citizen's
choice (a signed-out visitor's stays a cookie), sign-in adopts the cookie's when none is stored,
the settings page sets it (CSRF, GOV.UK radios); and the worker, over real SMTP to a local sink,
writes a Chinese mail to the citizen who chose 中文 and an English one to another."""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading

import pytest

from app.i18n import LANGUAGE_COOKIE
from app.notices.wiring import build_mailer
from notifications.delivery import SmtpSender, SmtpSettings
from notifications.models import NotificationPreference
from notifications.outbox import CONSENT_EXPIRING, RELEASE, enqueue, set_language
from notifications.sink import SinkHandler, start_sink
from notifications.worker import deliver_due
from profile_store.fields import declare
from tests.app.test_citizen_sign_in import account, citizen_sign_in  # noqa: F401 - a fixture
from tests.app.test_notices import link, remembered  # noqa: F401 - a fixture
from tests.factories import make_citizen
from tests.oauth import flow
from tests.oauth.flow import CSRF_INPUT

NOW = dt.datetime(2026, 12, 3, 13, 5, tzinfo=dt.UTC)  # 9:05pm in Singapore
SETTINGS = "/citizen/settings/notifications"
APP_NAME, AGENCY = "Housing grant application", "Housing Board"


def language_of(db_session, citizen_id: str) -> str | None:
    db_session.expire_all()
    row = db_session.get(NotificationPreference, citizen_id)
    return row.language if row is not None else None


def choose(client, locale: str, back: str = "/"):
    token = base64.urlsafe_b64encode(back.encode()).decode().rstrip("=")
    return client.get(f"/language/{locale}?back={token}")


@pytest.fixture
def person(db_session, runtime):
    """A citizen with no agency data (`citizen`, the OAuth tests' fixture, fetches theirs)."""
    found = make_citizen(db_session, runtime.vault)
    db_session.commit()
    return found


def test_the_picker_gives_a_signed_in_citizen_a_mail_language_once(client, db_session, person):
    flow.sign_in(client, person.id)
    response = choose(client, "zh_Hans_SG", back=SETTINGS)
    assert response.status_code == 303 and response.headers["Location"].endswith(SETTINGS)
    assert LANGUAGE_COOKIE in response.headers["Set-Cookie"]
    assert language_of(db_session, person.id) == "zh_Hans_SG"
    # A GET (any site can link a citizen to it) does not change a language they have: the
    # notices page's form does.
    assert LANGUAGE_COOKIE in choose(client, "en").headers["Set-Cookie"]
    assert language_of(db_session, person.id) == "zh_Hans_SG"


def test_a_signed_out_choice_is_only_a_cookie_and_an_unknown_one_nothing(client, db_session, person):
    assert LANGUAGE_COOKIE in choose(client, "zh_Hans_SG").headers["Set-Cookie"]
    assert db_session.query(NotificationPreference).filter_by(citizen_id=person.id).count() == 0
    flow.sign_in(client, person.id)  # a session, but no browser cookie in this request
    response = choose(client, "fr")
    assert response.status_code == 303 and "Set-Cookie" not in response.headers
    assert language_of(db_session, person.id) is None


def test_signing_in_adopts_the_cookie_s_language_unless_one_is_stored(app, db_session, account):  # noqa: F811
    signing_in = app.test_client()
    signing_in.set_cookie(LANGUAGE_COOKIE, "zh_Hans_SG")
    assert citizen_sign_in(signing_in, account).status_code == 303
    assert language_of(db_session, account.citizen_id) == "zh_Hans_SG"

    set_language(db_session, citizen_id=account.citizen_id, language="en", now=NOW)
    db_session.commit()
    again = app.test_client()
    again.set_cookie(LANGUAGE_COOKIE, "zh_Hans_SG")
    assert citizen_sign_in(again, account, code=account.code(steps_ahead=1)).status_code == 303
    assert language_of(db_session, account.citizen_id) == "en"  # their own choice stands


def test_the_settings_page_sets_the_language_for_emails(client, db_session, person):
    flow.sign_in(client, person.id)
    page = client.get(SETTINGS)
    assert "Language for emails" in page.text
    assert 'lang="zh-Hans-SG" for="language-2">' in page.text and 'lang="en" for="language">' in page.text
    assert 'name="language" type="radio" value="en" checked' in page.text  # never chosen: mails are English
    csrf = CSRF_INPUT.search(page.text).group(1)

    forged = client.post(SETTINGS, data={"mode": "immediate", "language": "zh_Hans_SG"})
    assert forged.status_code == 400 and language_of(db_session, person.id) is None
    bad = client.post(SETTINGS, data={"mode": "digest", "language": "klingon", "csrf_token": csrf})
    assert bad.status_code == 400 and "Choose a language for emails" in bad.text
    assert language_of(db_session, person.id) is None  # nothing half-written: not the mode either

    saved = client.post(SETTINGS, data={"mode": "digest", "language": "zh_Hans_SG", "csrf_token": csrf})
    assert saved.status_code == 303 and language_of(db_session, person.id) == "zh_Hans_SG"
    assert 'value="zh_Hans_SG" checked' in client.get(SETTINGS).text
    kept = client.post(SETTINGS, data={"mode": "immediate", "csrf_token": csrf})  # a script without it
    assert kept.status_code == 303 and language_of(db_session, person.id) == "zh_Hans_SG"


def test_the_one_tap_link_opens_in_the_mail_s_language_unless_the_browser_chose(
    app,
    client,
    db_session,
    remembered,  # noqa: F811 - the fixture
):
    path = link(app, remembered.id) + "?lang=zh_Hans_SG"
    page = client.get(path)
    assert page.status_code == 200 and '<html lang="zh-Hans-SG"' in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    assert action.endswith("?lang=zh_Hans_SG")  # the answer page in it too
    done = client.post(action, data={"csrf_token": CSRF_INPUT.search(page.text).group(1)})
    assert done.status_code == 200 and '<html lang="zh-Hans-SG"' in done.text

    client.set_cookie(LANGUAGE_COOKIE, "en")  # this browser's own choice wins
    assert '<html lang="en"' in client.get(path).text
    assert '<html lang="en"' in app.test_client().get(link(app, remembered.id) + "?lang=xx").text


# The worker, over SMTP to a sink on loopback.


@pytest.fixture
def sink():
    controller = start_sink(SinkHandler())
    yield controller
    controller.stop()


def mailed_citizen(db_session, runtime, address: str):
    citizen = make_citizen(db_session, runtime.vault, now=NOW)
    declare(
        db_session,
        vault=runtime.vault,
        catalogue=runtime.catalogue,
        citizen=citizen,
        attribute="email",
        value={"value": address},
        now=NOW,
    )
    for template in (RELEASE, CONSENT_EXPIRING):
        enqueue(
            db_session,
            citizen_id=citizen.id,
            template=template,
            params={
                "app_name": APP_NAME,
                "agency": AGENCY,
                "attributes": ["name", "regadd"],
                "consent_id": f"consent-{citizen.id[:8]}",
                "at": NOW.isoformat(),
                "expires_at": (NOW + dt.timedelta(days=7)).isoformat(),
            },
            now=NOW,
        )
    return citizen


def deliver_in_a_thread(app, sink) -> None:
    """As the demo's worker: a thread with no app context of its own."""
    rt = app.extensions["consentry"]
    sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{sink.port}", timeout_s=5))
    with app.app_context():
        mailer = build_mailer(rt, sender)
    reports = []
    worker = threading.Thread(
        target=lambda: reports.append(deliver_due(rt.writer_sessions, mailer, now=NOW, worker="lang-test"))
    )
    worker.start()
    worker.join(timeout=60)
    assert reports and reports[0].failed == 0 and reports[0].retried == 0


def test_each_citizen_gets_mail_in_their_own_language(app, client, db_session, runtime, sink):
    chinese = mailed_citizen(db_session, runtime, "mei.ling@example.com")
    mailed_citizen(db_session, runtime, "ah.kow@example.com")  # chose nothing: English
    db_session.commit()
    flow.sign_in(client, chinese.id)
    choose(client, "zh_Hans_SG")  # the picker, signed in: stored for her mails

    deliver_in_a_thread(app, sink)

    mails = {(m.rcpt_tos[0], m.message["X-Consentry-Notices"]): m for m in sink.handler.received()}
    assert len(mails) == 4
    by = {}
    for (to, _ids), mail in mails.items():
        by.setdefault(to, []).append(mail)
    zh_release, zh_expiring = sorted(
        by["mei.ling@example.com"], key=lambda m: m.message["X-Consentry-Notices"]
    )
    en_release, en_expiring = sorted(by["ah.kow@example.com"], key=lambda m: m.message["X-Consentry-Notices"])

    assert zh_release.message["Subject"] == f"{APP_NAME} 收到了您的资料"
    assert zh_expiring.message["Subject"] == f"您对 {APP_NAME} 的同意即将结束"
    for mail in (zh_release, zh_expiring):
        assert mail.message["Content-Language"] == "zh-Hans-SG"
        html, body = mail.html(), mail.text()
        assert '<html lang="zh-Hans-SG">' in html
        assert f'<span lang="en">{APP_NAME}</span> (<span lang="en">{AGENCY}</span>)' in html
        assert "<li>登记地址</li>" in html and "  - 登记地址" in body  # the labels, translated
        assert "Consentry 绝不会通过电邮向您索取密码或验证码。" in body
        assert "received" not in body and "Registered address" not in body and "Choose how" not in body
    release_text = zh_release.text()
    assert (
        f"{APP_NAME} ({AGENCY}) 于 2026年12月3日 下午9:05（新加坡时间）收到了您的以下资料：" in release_text
    )
    assert "没有预料到这项分享？请撤回这项同意" in release_text
    assert re.search(
        r"/citizen/withdraw-link/\S+\?lang=zh_Hans_SG\n", release_text
    )  # its page in Chinese too
    assert ">撤回这项同意</a>" in zh_release.html()
    assert "如要在此之前停止分享" in zh_expiring.text()

    assert en_release.message["Subject"] == f"{APP_NAME} received your details"
    assert en_expiring.message["Subject"] == f"Your consent for {APP_NAME} ends soon"
    for mail in (en_release, en_expiring):
        assert mail.message["Content-Language"] == "en"
        assert '<html lang="en">' in mail.html() and 'lang="en">' + APP_NAME not in mail.html()
        assert "<li>Registered address</li>" in mail.html()
        assert "收到" not in mail.text() and "撤回" not in mail.html() and "?lang=" not in mail.text()
    assert f"{APP_NAME} ({AGENCY}) received your details on 3 December 2026, 9:05pm (Singapore time):" in (
        en_release.text()
    )


def test_a_digest_in_chinese_counts_in_its_subject_and_heading(app, db_session, runtime, sink):
    citizen = mailed_citizen(db_session, runtime, "digest@example.com")
    set_language(db_session, citizen_id=citizen.id, language="zh_Hans_SG", now=NOW)
    db_session.query(NotificationPreference).filter_by(citizen_id=citizen.id).update(
        {"mode": "digest"}, synchronize_session=False
    )
    db_session.commit()
    rt = app.extensions["consentry"]
    sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{sink.port}", timeout_s=5))
    with app.app_context():
        mailer = build_mailer(rt, sender)
        deliver_due(rt.writer_sessions, mailer, now=NOW, worker="lang-test")  # held for the digest
        deliver_due(rt.writer_sessions, mailer, now=NOW + dt.timedelta(days=1), worker="lang-test")
    [mail] = sink.handler.received()
    assert mail.message["Subject"] == "您的 Consentry 通知：今天 2 则"
    assert "今天您的资料动态（2 则通知）" in mail.html() and mail.message["Content-Language"] == "zh-Hans-SG"
