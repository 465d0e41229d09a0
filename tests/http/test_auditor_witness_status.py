"""The auditor's status page, Witnesses section, over HTTP with real witnesses on loopback: each
configured witness with its key and the newest size it cosigned, whether the newest checkpoint has
a quorum, and a witness's refusal of a forked log as an alarm with its evidence (the signed note of
the refused checkpoint, which checks with the log's key). /log/witnesses gives the same as JSON."""

from __future__ import annotations

import os
import re

import pytest

from audit import note
from audit.witness_client import WitnessSubmitter, httpx_post
from audit.witness_format import add_checkpoint_body
from tests.audit.test_tiles_client import _sign_in_as_auditor
from tests.audit.test_witness_submission import clock, grow_and_sign, start_witness


@pytest.fixture
def witnesses(tmp_path, runtime):
    pair = [start_witness(tmp_path, runtime.audit_signer) for _ in range(2)]
    yield pair
    for w in pair:
        w.stop()


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def configure(app, running: list, quorum: int) -> None:
    rt = app.extensions["consentry"]
    spec = ";".join(f"{w.url} {w.witness.vkey}" for w in running)
    rt.config = rt.config.replace(audit_witnesses=spec, audit_witness_quorum=quorum)


def submit(sessions, running) -> str:
    [outcome] = WitnessSubmitter(sessions, [running.target], httpx_post(), clock).run_round()
    return outcome.result


def test_each_witness_its_key_newest_cosigned_size_and_the_quorum(
    app, client, db_session, runtime, sessions, witnesses
):
    first, second = witnesses
    configure(app, witnesses, quorum=2)
    with sessions() as session:
        size = grow_and_sign(session, runtime.audit_signer, 3)
    assert submit(sessions, first) == "cosigned"
    _sign_in_as_auditor(client, db_session, runtime)

    page = client.get("/auditor/status")
    assert page.status_code == 200
    text = words(page.text)
    assert "Quorum not met" in text
    assert f"The newest checkpoint (tree size {size}) is cosigned by 1 of 2 witnesses; 2 needed." in text
    # The time is the witness's own (its cosignature's timestamp), in the display zone, named.
    row = (
        re.escape(f"{first.witness.name} {first.witness.vkey} tree size {size}, ")
        + r"\d{1,2} \w{3} \d{4} \d\d:\d\d \(Asia/Singapore\) 0"
    )
    assert re.search(row, text), text
    assert f"{second.witness.name} {second.witness.vkey} nothing yet 0" in text
    assert 'href="/log/witnesses"' in page.text
    assert "Alarms" not in text

    assert submit(sessions, second) == "cosigned"
    text = words(client.get("/auditor/status").text)
    assert "Quorum met" in text and "cosigned by 2 of 2 witnesses" in text


def test_a_refusal_is_an_alarm_with_its_evidence(app, client, db_session, runtime, sessions, witnesses):
    running = witnesses[0]
    configure(app, witnesses[:1], quorum=1)
    signer = runtime.audit_signer
    with sessions() as session:
        size = grow_and_sign(session, signer, 2)
    # A split view: the witness is first shown another history at a larger size, signed by our key.
    forged_body = note.checkpoint_body(signer.note_origin, size + 1, os.urandom(32))
    forged = note.note_text(forged_body, signer.note_origin, signer.sign_note(forged_body))
    assert (
        running.witness.add_checkpoint(running.state, add_checkpoint_body(0, [], forged), now=1).status == 200
    )
    with sessions() as session:
        refused = grow_and_sign(session, signer, 3)
    assert submit(sessions, running) == "refused"
    _sign_in_as_auditor(client, db_session, runtime)

    page = client.get("/auditor/status").text
    text = words(page)
    assert "Quorum not met" in text
    assert "Alarms: checkpoints a witness refused as inconsistent (1)" in text
    alarm = re.escape(f": {running.witness.name} refused tree size {refused} (it holds {size + 1})")
    assert re.search(r"\d{1,2} \w{3} \d{4} \d\d:\d\d \(Asia/Singapore\)" + alarm, text), text
    [evidence] = re.findall(r'href="(/log/witnesses/refusals/\d+)"', page)
    served = client.get(evidence)
    assert served.status_code == 200 and served.mimetype == "text/plain"
    body = note.verify_note(served.get_data(as_text=True), signer.note_verifier_key())
    assert note.parse_checkpoint(body).tree_size == refused

    listed = client.get("/log/witnesses").get_json()
    [alarm] = listed["recent_refusals"]
    assert (alarm["witness"], alarm["tree_size"], alarm["evidence"]) == (
        running.witness.name,
        refused,
        evidence,
    )


def test_without_witnesses_the_section_says_so(client, db_session, runtime):
    _sign_in_as_auditor(client, db_session, runtime)
    text = words(client.get("/auditor/status").text)
    assert "No witnesses are configured ( AUDIT_WITNESSES ): nobody outside Consentry cosigns" in text


def test_evidence_is_for_auditors_only_and_unknown_refusals_are_404(client, db_session, runtime):
    assert client.get("/log/witnesses/refusals/1").status_code in (302, 401, 403)
    _sign_in_as_auditor(client, db_session, runtime)
    assert client.get("/log/witnesses/refusals/999999").status_code == 404
