"""A citizen checks that a row of "Who has my data" is in the public log, in a real Chromium:
history, then the row's proof page (checked on the server), then the downloaded bundle, which the
offline verifier accepts; axe, console and CSP checks on the way, and the page at 375 px."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from audit.checkpointer import CheckpointPolicy, sign_if_due
from audit.verifier import main as verifier_main
from audit.witness_client import WitnessSubmitter, httpx_post
from core.clock import utcnow
from tests.audit.test_witness_submission import start_witness
from tests.browser import test_citizen_portal
from tests.browser.test_citizen_sign_in import fill_sign_in
from tests.browser.test_operator_browser import horizontal_overflow

SIGN_NOW = CheckpointPolicy(dt.timedelta(0), 1)
# The portal tests' fixture: a signed-in-able citizen with a consent and a disclosure.
portal = test_citizen_portal.portal


def sign_checkpoint(live_app) -> int:
    runtime = live_app.extensions["consentry"]
    with runtime.writer_sessions() as session:
        made = sign_if_due(session, signer=runtime.audit_signer, policy=SIGN_NOW, now=utcnow())
        session.commit()
        assert made is not None
        return made.tree_size


def test_citizen_checks_a_history_row_is_in_the_public_log(
    tab,
    live_app,
    portal,
    tmp_path,
    capsys,
):
    tree_size = sign_checkpoint(live_app)
    page = tab.page
    tab.goto("/citizen/history")
    fill_sign_in(page, portal.account, portal.account.totp.now())
    table = page.get_by_role("table", name="Your history")
    proofs = table.get_by_role("link", name=re.compile("^Proof"))
    expect(proofs).to_have_count(2)
    assert tab.axe_violations() == []

    proofs.first.click()
    expect(page.get_by_role("heading", name="Is this record in the public log?")).to_be_visible()
    result = page.locator("#proof-result")
    expect(result).to_contain_text(
        "This record is in the public log: checked against the log's signed state of"
    )
    expect(result).to_contain_text(f"({tree_size} entries)")
    assert tab.axe_violations() == []

    with page.expect_download() as download:
        page.get_by_role("link", name="Download proof (JSON)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert re.fullmatch(r"consentry-proof-\d+\.json", saved.name)
    key = tmp_path / "key.pem"
    key.write_bytes(live_app.extensions["consentry"].audit_signer.public_pem())
    assert verifier_main(["--bundle", str(saved), "--public-key", str(key)]) == 0
    assert any(line.startswith("OK: entry seq") for line in capsys.readouterr().out.splitlines())

    page.set_viewport_size({"width": 375, "height": 740})
    assert horizontal_overflow(tab) == []
    assert tab.axe_violations() == []
    page.get_by_role("link", name="Back to Who has my data").click()
    expect(page.get_by_role("heading", name="Who has my data")).to_be_visible()
    assert horizontal_overflow(tab) == []
    assert tab.problems == []


def test_the_proof_says_independent_witnesses_confirmed_it(tab, live_app, portal, tmp_path, capsys):
    """With a witness configured and its cosignature held, the proof page says so in plain words,
    and the download checks offline with the witness's key, the command the page gives."""
    runtime = live_app.extensions["consentry"]
    sign_checkpoint(live_app)
    witness = start_witness(tmp_path, runtime.audit_signer)
    before = runtime.config
    try:
        submitter = WitnessSubmitter(runtime.writer_sessions, [witness.target], httpx_post(), utcnow)
        assert [o.result for o in submitter.run_round()] == ["cosigned"]
        runtime.config = before.replace(audit_witnesses=f"{witness.url} {witness.witness.vkey}")
        page = tab.page
        tab.goto("/citizen/history")
        fill_sign_in(page, portal.account, portal.account.totp.now())
        page.get_by_role("table", name="Your history").get_by_role(
            "link", name=re.compile("^Proof")
        ).first.click()
        expect(page.locator("#witness-result")).to_contain_text("Independently confirmed by 1 of 1 witness.")
        expect(page.locator("#witness-command")).to_contain_text(f"--witness '{witness.witness.vkey}'")
        assert tab.axe_violations() == []

        with page.expect_download() as download:
            page.get_by_role("link", name="Download proof (JSON)").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        key = tmp_path / "key.pem"
        key.write_bytes(runtime.audit_signer.public_pem())
        log_key = runtime.audit_signer.note_verifier_key()
        args = ["--bundle", str(saved), "--public-key", str(key), "--log-key", log_key]
        assert verifier_main([*args, "--witness", witness.witness.vkey, "--quorum", "1"]) == 0
        assert f"OK: checkpoint cosigned by {witness.witness.name}" in capsys.readouterr().out

        page.set_viewport_size({"width": 375, "height": 740})
        assert horizontal_overflow(tab) == []
        assert tab.problems == []
    finally:
        runtime.config = before
        witness.stop()
