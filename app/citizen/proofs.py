"""The citizen's proof pages: for one row of "Who has my data", whether its audit entry is in the
public log, checked here against the latest signed checkpoint, and the proof bundle to download and
check offline (`python -m audit.verifier --bundle`). Registered on the citizen blueprint.

With witnesses configured (AUDIT_WITNESSES, AUDIT_WITNESS_QUORUM), the page also says whether
enough of them cosigned the checkpoint the proof leads to, and the download carries the cosigned
note and the keys to check it with (`--log-key`, `--witness`, `--quorum`).

Only the citizen's own entries: another citizen's record number, or any other kind of entry, is a
404 that says nothing about it. Viewing is not audited (it discloses nothing to anyone else).
"""

from __future__ import annotations

import datetime as dt
import json

from flask import Response, g, render_template

from audit.checkpointer import CheckpointPolicy
from audit.proof_bundle import EntryProof, NotYetSigned, citizen_entry_proof
from audit.witness_client import parse_witnesses
from audit.witness_verify import WitnessPolicy, bundle_cosigners
from core.clock import utcnow
from profile_store.citizens import get_citizen

from ..extensions import db, runtime
from ..identity import citizen_required
from .proof_schemas import ProofBundleOut
from .views import bp


@bp.get("/history/<int:seq>/proof")
@citizen_required
def entry_proof(seq: int):
    witnesses = _witness_policy()
    proof = _proof(seq, witnesses)
    return render_template(
        "citizen/proof.html",
        proof=proof,
        due_by=_minute_up(proof.next_due),
        witnesses=witnesses,
        cosigners=bundle_cosigners(proof.bundle, witnesses) if witnesses and proof.bundle else 0,
    )


@bp.get("/history/<int:seq>/proof.json")
@citizen_required
def entry_proof_download(seq: int):
    witnesses = _witness_policy()
    proof = _proof(seq, witnesses)
    if proof.bundle is None:
        raise NotYetSigned("This record is not yet in a signed log state. Try again in a few seconds.")
    bundle = dict(proof.bundle)
    if witnesses is not None:
        bundle["witness_policy"] = witnesses
    body = json.dumps(ProofBundleOut().dump(bundle), indent=2, ensure_ascii=False) + "\n"
    headers = {
        "Content-Disposition": f'attachment; filename="consentry-proof-{seq}.json"',
        "Cache-Control": "no-store",
    }
    return Response(body, mimetype="application/json", headers=headers)


def _witness_policy() -> WitnessPolicy | None:
    """The witnesses this platform submits to, as the verifier's policy (None when there are none).
    The configuration was checked when the app started, so this does not fail."""
    rt = runtime()
    targets = parse_witnesses(rt.config.audit_witnesses)
    if not targets:
        return None
    keys = tuple(t.key.vkey for t in targets)
    return WitnessPolicy(rt.audit_signer.note_verifier_key(), keys, rt.config.audit_witness_quorum)


def _proof(seq: int, witnesses: WitnessPolicy | None) -> EntryProof:
    rt, store = runtime(), db()
    config = rt.config
    # A nonsense setting (below zero) is the signer's problem; here it must not break the page.
    policy = CheckpointPolicy(
        dt.timedelta(seconds=max(0.0, config.audit_checkpoint_interval_s)),
        max(1, config.audit_checkpoint_every),
    )
    return citizen_entry_proof(
        store,
        seq=seq,
        citizen_ref=get_citizen(store, g.citizen_id).uinfin_digest,
        public_key=rt.audit_signer.public_key,
        log_id=rt.audit_signer.log_id,
        policy=policy,
        now=utcnow(),
        witnesses=witnesses,
    )


def _minute_up(moment: dt.datetime | None) -> dt.datetime | None:
    """Citizens read times to the minute: "due by 9:06pm" must not be earlier than the due time."""
    if moment is None or (moment.second == 0 and moment.microsecond == 0):
        return moment
    return moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
