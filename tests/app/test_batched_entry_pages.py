"""AUDIT_INTEGRATION=batched: the citizen's proof page for an entry still queued for the log's
tree says it is being added (never "no such record"); once integrated and signed it is checked
like any other entry; the auditor's entry view likewise."""

from __future__ import annotations

from sqlalchemy import select

from app.auditor.display import entry_view
from audit.integrator import integrate_batch
from audit.log import BATCHED, Event, append
from audit.models import AuditLeaf
from audit.tree import create_checkpoint
from tests.oauth import flow
from tests.oauth.flow import CLIENT_ID, PURPOSE


def words(html: str) -> str:
    return " ".join(html.split())


def test_a_queued_entrys_proof_page_says_it_is_being_added_then_checks_it(
    client, db_session, runtime, citizen, now
):
    event = Event(
        kind="disclosure", citizen_ref=citizen.uinfin_digest, app_id=CLIENT_ID, purpose=PURPOSE,
        outcome="released", attributes=("name",),
    )  # fmt: skip
    seq = append(db_session, event, now=now, integration=BATCHED).seq
    db_session.commit()
    flow.sign_in(client, citizen.id)
    page = client.get(f"/citizen/history/{seq}/proof")
    assert page.status_code == 200
    assert "is being added to the log's tree of fingerprints now" in words(page.text)
    assert client.get(f"/citizen/history/{seq}/proof.json").status_code != 404

    integrate_batch(db_session)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()
    checked = client.get(f"/citizen/history/{seq}/proof")
    assert "This record is in the public log" in words(checked.text)
    assert client.get(f"/citizen/history/{seq}/proof.json").status_code == 200


def test_the_auditors_entry_view_of_a_batched_entry_has_its_proof_once_integrated(db_session, runtime, now):
    seq = append(db_session, Event(kind="admin_action", outcome="x"), now=now, integration=BATCHED).seq
    queued = entry_view(db_session, seq, public_key=runtime.audit_signer.public_key)
    assert queued.proof is None and queued.chain_hash == ""
    integrate_batch(db_session)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    placed = entry_view(db_session, seq, public_key=runtime.audit_signer.public_key)
    chain = db_session.scalar(select(AuditLeaf.chain_hash).where(AuditLeaf.seq == seq))
    assert placed.proof is not None and placed.proof.verified and placed.chain_hash == chain.hex()
