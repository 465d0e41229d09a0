"""No English word of GOV.UK Frontend's own on a Chinese page: every citizen page (each GET page the
citizen and notices blueprints serve, a test below checks none is missed) and its states (form
errors, banners after an action, the step-up and its error, the revealed id), rendered in
zh_Hans_SG, holds none of the words the components write by default ("Success", "Important",
"Error:", "There is a problem", "Back", "Warning", "Show", "Hide", "Menu"...) outside a
`lang="en"` element (a name, an app's registered name), in text or in what a screen reader reads
(aria-label, title, alt). app/govuk_words.py translates the defaults; a call that passes its own
English words fails here too."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from audit.models import AuditEntry
from consent.models import Consent
from core.clock import utcnow
from identity.models import WebSession
from notifications.links import link_key, make_link_token
from profile_store.correction_models import CorrectionRequest
from profile_store.fields import apply_agency_record
from tests.app.test_i18n import CSRF_INPUT, choose_chinese, html_lang
from tests.oauth import flow

ENGLISH = re.compile(
    r"(?<![\w-])(Success|Important|Error:?|There is a problem|Back|Warning|Show|Hide|Menu|Support links"
    r"|Previous|Next|Pagination|Show password|Hide password)(?![\w-])"
)
SPOKEN = ("aria-label", "title", "alt")
# Not pages (files, JSON, or a redirect to a page listed here): nothing for a person to read.
NOT_PAGES = {
    "citizen.download_json",
    "citizen.download_zip",
    "citizen.entry_proof_download",
    "citizen.download_receipt",
    "citizen.consent_receipt",  # redirects to citizen.receipt
    "citizen.national_id_again",  # redirects to citizen.profile
}


class _Reader(HTMLParser):
    """What a person reads or hears on the page outside `lang="en"` elements."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: inside lang="en"?
        self.skip = 0  # inside <script> or <style>
        self.read: list[str] = []

    def _english(self) -> bool:
        return bool(self.stack) and self.stack[-1]

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        english = self._english() or values.get("lang") == "en"
        if not english:
            self.read.extend(values[name] for name in SPOKEN if values.get(name))
        if tag in ("script", "style"):
            self.skip += 1
        if tag not in self.VOID:
            self.stack.append(english)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.skip and not self._english():
            self.read.append(data)


def english_words(page: str) -> list[str]:
    reader = _Reader()
    reader.feed(page)
    return sorted({match.group(0) for text in reader.read for match in ENGLISH.finditer(text)})


def test_the_reader_sees_text_and_spoken_words_but_not_english_spans():
    page = (
        '<html lang="zh"><p>成功 <span lang="en">Back Street</span></p>'
        '<a aria-label="Pagination">x</a><span class="govuk-visually-hidden">Warning</span>'
        "<script>Show()</script></html>"
    )
    assert english_words(page) == ["Pagination", "Warning"]


@pytest.fixture
def journey(app, client, db_session, runtime, citizen, verifier, keys, dpop_key):
    """A citizen with an agency's name, a standing consent, a correction request and a "This
    wasn't me" report, reading in Chinese; every page's address, by endpoint."""
    apply_agency_record(
        db_session, vault=runtime.vault, catalogue=runtime.catalogue, citizen=citizen, agency="identity",
        items={"name": {"value": "TAN AH KOW"}}, now=utcnow(),
    )  # fmt: skip
    db_session.commit()
    flow.sign_in(client, citizen.id)
    path = flow.consent_path(flow.authorize(client, verifier))
    code = flow.redirect_params(flow.decide(client, path, attributes=["regadd"], remember="3m"))["code"]
    access = flow.get_token(client, keys, code, verifier, dpop_key)["access_token"]
    assert flow.get_person(client, access, dpop_key).status_code == 200  # a release: reportable
    consent = db_session.scalars(select(Consent).where(Consent.citizen_id == citizen.id)).one()
    choose_chinese(client, "/citizen/")
    pages: dict[str, str] = {}

    form = client.get("/citizen/profile/name/wrong").text
    token = CSRF_INPUT.search(form).group(1)
    submission = re.search(r'name="submission" value="([^"]+)"', form).group(1)
    filed = {"csrf_token": token, "submission": submission, "what": "拼错", "correct_value": "TAN AH KAU"}
    pages["filed"] = client.post("/citizen/profile/name/wrong", data=filed, follow_redirects=True).text
    request_id = db_session.scalars(
        select(CorrectionRequest.id).where(CorrectionRequest.citizen_id == citizen.id)
    ).one()
    seq = db_session.scalars(
        select(AuditEntry.seq).where(
            AuditEntry.citizen_ref == citizen.uinfin_digest, AuditEntry.kind == "disclosure"
        )
    ).first()
    reported = client.post(f"/citizen/history/{seq}/report", data={"csrf_token": token, "note": ""})
    declarable = re.search(
        r'href="/citizen/declarations/([a-z0-9_]+)"', client.get("/citizen/declarations").text
    )
    key = link_key(app.extensions["consentry"].config.secret_key)
    link_token = make_link_token(key, consent_id=consent.id, now=utcnow())
    addresses = {
        "citizen.landing": "/citizen/",
        "citizen.profile": "/citizen/profile",
        "citizen.history_page": "/citizen/history",
        "citizen.entry_proof": f"/citizen/history/{seq}/proof",
        "citizen.not_me": f"/citizen/history/{seq}/not-me",
        "citizen.receipt": f"/citizen/receipts/{seq}",
        "citizen.filed_report": reported.headers["Location"],
        "citizen.consents": "/citizen/consents",
        "citizen.withdraw_consent": f"/citizen/consents/{consent.id}/withdraw",
        "citizen.pause_consent": f"/citizen/consents/{consent.id}/pause",
        "citizen.resume_consent": f"/citizen/consents/{consent.id}/resume",
        "citizen.narrow_consent": f"/citizen/consents/{consent.id}/narrow",
        "citizen.declarations": "/citizen/declarations",
        "citizen.declaration": f"/citizen/declarations/{declarable.group(1)}",
        "citizen.remove_declaration": f"/citizen/declarations/{declarable.group(1)}/remove",
        "citizen.download_page": "/citizen/download",
        "citizen.refresh_status": "/citizen/refresh",
        "citizen.report_mistake": "/citizen/profile/name/wrong",
        "citizen.corrections": "/citizen/corrections",
        "citizen.correction": f"/citizen/corrections/{request_id}",
        "citizen.withdraw_correction": f"/citizen/corrections/{request_id}/withdraw",
        "citizen.close": "/citizen/account/close",
        "notices.settings": "/citizen/settings/notifications",
        "notices.withdraw_link": f"/citizen/withdraw-link/{link_token}",
    }
    for endpoint, path in addresses.items():
        pages[endpoint] = client.get(path, follow_redirects=True).text

    # States: form errors, the revealed id, the step-up and its error, banners after actions.
    pages["correction form errors"] = client.post(
        "/citizen/profile/name/wrong", data={"csrf_token": token, "submission": submission}
    ).text
    pages["narrow errors"] = client.post(
        f"/citizen/consents/{consent.id}/narrow", data={"csrf_token": token}
    ).text
    pages["declaration errors"] = client.post(
        addresses["citizen.declaration"], data={"csrf_token": token}
    ).text
    pages["revealed id"] = client.post("/citizen/profile/national-id", data={"csrf_token": token}).text
    db_session.execute(
        update(WebSession)
        .where(WebSession.subject == citizen.id)
        .values(authenticated_at=utcnow() - dt.timedelta(minutes=6))
    )
    db_session.commit()
    pages["step-up"] = client.post("/citizen/profile/national-id", data={"csrf_token": token}).text
    pages["step-up error"] = client.post(
        "/citizen/profile/national-id/confirm", data={"csrf_token": token, "code": "12"}
    ).text
    done = client.post(
        f"/citizen/consents/{consent.id}/pause", data={"csrf_token": token}, follow_redirects=True
    )
    pages["paused banner"] = done.text
    done = client.post(
        addresses["citizen.withdraw_correction"], data={"csrf_token": token}, follow_redirects=True
    )
    pages["correction withdrawn banner"] = done.text

    client.post("/citizen/sign-out", data={"csrf_token": token})
    for endpoint, path in {
        "citizen.sign_in": "/citizen/sign-in",
        "citizen.activate": "/citizen/activate",
        "citizen.activate_password": "/citizen/activate/password",
        "citizen.activate_authenticator": "/citizen/activate/authenticator",
        "citizen.recover": "/citizen/recover",
        "citizen.recover_authenticator": "/citizen/recover/authenticator",
    }.items():
        pages[endpoint] = client.get(path, follow_redirects=True).text
    token = CSRF_INPUT.search(pages["citizen.sign_in"]).group(1)
    pages["sign-in errors"] = client.post("/citizen/sign-in", data={"csrf_token": token, "code": "12"}).text
    pages.update(activation_pages(app, client, db_session, runtime, token))
    return pages


def activation_pages(app, client, db_session, runtime, token: str) -> dict[str, str]:
    """Activation's password (the password input and its toggle) and authenticator steps, each
    also with an error: they need an activation under way."""
    from app.citizen.activation import code_key
    from identity.activation import issue_letter
    from tests.factories import fresh_uinfin, make_citizen

    uinfin = fresh_uinfin()
    make_citizen(db_session, runtime.vault, uinfin=uinfin)
    with app.test_request_context():
        key = code_key()
    letter = issue_letter(db_session, vault=runtime.vault, key=key, uinfin=uinfin, now=utcnow())
    db_session.commit()
    pages = {}
    started = {"csrf_token": token, "uinfin": uinfin, "code": letter.code}
    pages["activation: password"] = client.post("/citizen/activate", data=started, follow_redirects=True).text
    assert 'type="password"' in pages["activation: password"]
    weak = {"csrf_token": token, "password": "password1234", "confirm": "password1234"}
    pages["activation: password error"] = client.post("/citizen/activate/password", data=weak).text
    strong = {
        "csrf_token": token,
        "password": "tangerine lantern kettle",
        "confirm": "tangerine lantern kettle",
    }
    done = client.post("/citizen/activate/password", data=strong, follow_redirects=True)
    pages["activation: authenticator"] = done.text
    assert "<svg" in done.text or "image/svg" in done.text or 'src="data:' in done.text
    wrong = client.post("/citizen/activate/authenticator", data={"csrf_token": token, "code": "12"})
    pages["activation: authenticator error"] = wrong.text
    return pages


def test_every_citizen_page_is_checked(app, journey):
    served = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("citizen", "notices") and "GET" in rule.methods
    }
    assert served - NOT_PAGES - set(journey) == set(), "a citizen page this test does not render"


def test_no_default_english_word_on_a_chinese_citizen_page(journey):
    found = {}
    for name, page in journey.items():
        assert html_lang(page) == "zh-Hans-SG", name
        words = english_words(page)
        if words:
            found[name] = words
    assert found == {}


def test_a_component_whose_default_moved_fails_loudly():
    from app.govuk_words import GovukWordsChanged, translated

    source = '{{ params.text | default("Go back", true) }}'  # not the wording the table expects
    with pytest.raises(GovukWordsChanged, match="back-link"):
        translated("components/back-link/macro.html", source)
    assert translated("components/tag/macro.html", source) == source  # no default to translate
