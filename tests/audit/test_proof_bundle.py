"""Proof bundles: built from the database (audit.proof_bundle), checked by audit.proof_check and by
`python -m audit.verifier --bundle` with no database; every kind of tampering is named."""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEMO_AUDIT_SIGNING_KEY
from audit.canonical import canonical_json
from audit.checkpoint_signing import key_id, new_private_key, public_key_pem, sign_checkpoint
from audit.checkpointer import CheckpointPolicy
from audit.log import Event, append
from audit.merkle import leaf_hash
from audit.proof_bundle import NotYetSigned, bundle_for, check_bundle, check_bundle_json, citizen_entry_proof
from audit.signer import AuditSigner
from audit.tree import create_checkpoint
from core.errors import NotFound

ROOT = Path(__file__).resolve().parents[2]
LOG_ID = "test-log"
SIGNER = AuditSigner.from_pem(LOG_ID, DEMO_AUDIT_SIGNING_KEY)
KEY = SIGNER.public_key
FOREIGN = new_private_key()
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
MINE, THEIRS = "a" * 64, "b" * 64
POLICY = CheckpointPolicy(dt.timedelta(seconds=5), max_entries=1000)


def disclose(session, citizen_ref: str, now: dt.datetime = T0) -> int:
    event = Event(
        kind="disclosure", citizen_ref=citizen_ref, app_id="app-1", purpose="grant", outcome="released",
        attributes=("name", "regadd"), details={"consent_id": "c-1"},
    )  # fmt: skip
    return append(session, event, now=now).seq


@pytest.fixture
def log(db_session) -> dict[str, list[int]]:
    """13 of the citizen's entries and one of another's under a checkpoint, then 2 more unsigned."""
    covered = [disclose(db_session, MINE) for _ in range(13)]
    theirs = [disclose(db_session, THEIRS)]
    assert create_checkpoint(db_session, signer=SIGNER, now=T0) is not None
    later = [disclose(db_session, MINE, T0 + dt.timedelta(seconds=2)) for _ in range(2)]
    return {"covered": covered, "theirs": theirs, "later": later}


def bundle(session, seq: int) -> dict:
    return bundle_for(session, seq=seq, public_key=KEY, log_id=LOG_ID)


def test_every_covered_entry_round_trips_through_json(db_session, log):
    for seq in log["covered"]:
        made = bundle(db_session, seq)
        assert set(made) == {
            "format",
            "log_id",
            "entry",
            "proof",
            "checkpoint",
            "public_key",
            "checkpoint_note",
        }
        assert made["entry"]["seq"] == seq and made["public_key"]["key_id"] == key_id(KEY)
        verdict = check_bundle_json(json.dumps(made, indent=2), trusted_key=KEY)
        assert verdict.ok, verdict.reason
        assert verdict.seq == seq and verdict.tree_size == made["checkpoint"]["body"]["tree_size"]
        assert not verdict.key_from_bundle
    assert check_bundle(made).key_from_bundle, "without a trusted key the bundle's own is used, and said so"


def test_no_bundle_before_a_checkpoint_covers_the_entry_or_for_no_entry(db_session, log):
    with pytest.raises(NotYetSigned):
        bundle(db_session, log["later"][0])
    for seq in (-1, log["later"][-1] + 1, 10**12):
        with pytest.raises(NotFound):
            bundle(db_session, seq)


def _resigned(made: dict, key=FOREIGN) -> None:
    """The checkpoint re-signed by `key` and that key put in the bundle: a forger's bundle."""
    body = dict(made["checkpoint"]["body"], key_id=key_id(key.public_key()))
    made["checkpoint"] = sign_checkpoint(key, body)
    made["public_key"] = {
        "key_id": key_id(key.public_key()),
        "pem": public_key_pem(key.public_key()).decode(),
    }


def _consistent_body_edit(made: dict) -> None:
    made["entry"]["body"]["app_id"] = "someone-else"
    made["entry"]["leaf_hash"] = leaf_hash(canonical_json(made["entry"]["body"])).hex()


def _flip(made: dict) -> None:
    path = made["proof"]["audit_path"]
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]


TAMPERING = {
    "body": (lambda b: b["entry"]["body"].update(app_id="x"), "body_altered", "body altered"),
    "body seq": (lambda b: b["entry"].update(seq=b["entry"]["seq"] + 1), "body_altered", "names seq"),
    "body and leaf hash": (_consistent_body_edit, "path_altered", "audit path altered"),
    "path hash": (_flip, "path_altered", "audit path altered: it leads to root"),
    "path truncated": (lambda b: b["proof"]["audit_path"].pop(), "path_altered", "wrong length"),
    "path extended": (lambda b: b["proof"]["audit_path"].append("0" * 64), "path_altered", "wrong length"),
    "tree size": (lambda b: b["proof"].update(tree_size=b["proof"]["tree_size"] + 1), "wrong_tree_size", ""),
    "leaf index": (lambda b: b["proof"].update(leaf_index=b["proof"]["leaf_index"] + 1), "wrong_entry", ""),
    "proof root": (lambda b: b["proof"].update(root_hash="0" * 64), "root_mismatch", "root mismatch"),
    "signed root": (
        lambda b: b["checkpoint"]["body"].update(root_hash="0" * 64),
        "bad_signature",
        "does not verify",
    ),
    "signed size": (
        lambda b: b["checkpoint"]["body"].update(tree_size=10**6),
        "bad_signature",
        "does not verify",
    ),
    "signature": (lambda b: b["checkpoint"].update(signature="A" * 86), "bad_signature", "does not verify"),
    "key": (
        lambda b: b.update(public_key={"pem": public_key_pem(FOREIGN.public_key()).decode()}),
        "foreign_key",
        "is not the key you trust",
    ),
    "re-signed by another key": (_resigned, "foreign_key", "foreign key"),
    "log id": (lambda b: b.update(log_id="another-log"), "other_log", "another-log"),
    "format": (lambda b: b.pop("format"), "malformed", "malformed bundle"),
    "path not hex": (lambda b: b["proof"]["audit_path"].append("zz"), "malformed", "audit_path"),
    "no body": (lambda b: b["entry"].pop("body"), "malformed", "body"),
}


@pytest.mark.parametrize("name", TAMPERING)
def test_tampering_is_named(db_session, log, name):
    change, problem, words = TAMPERING[name]
    made = bundle(db_session, log["covered"][5])
    change(made)
    verdict = check_bundle(copy.deepcopy(made), trusted_key=KEY)
    assert not verdict.ok
    assert verdict.problem == problem, verdict.reason
    assert words in verdict.reason
    assert "\n" not in verdict.reason
    signature_holds = problem not in ("bad_signature", "foreign_key", "malformed")
    assert verdict.signature_valid == signature_holds, "what the auditor's entry page reports"


def test_the_bundles_own_key_proves_only_self_consistency(db_session, log):
    """A forger who re-signs with their own key passes when the bundle's key is trusted; that is why
    the verifier needs the user's own key or an explicit --trust-bundle-key, and says which."""
    made = bundle(db_session, log["covered"][0])
    _consistent_body_edit(made)
    assert check_bundle(made).problem == "path_altered"
    _resigned(made)
    assert check_bundle(made).problem == "path_altered", "the path still leads to the real root"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not valid JSON"),
        ('{"format": "consentry-inclusion-proof/1", "entr', "truncated"),
        ("[]", "list"),
    ],
)
def test_truncated_or_malformed_json(text, words):
    verdict = check_bundle_json(text, trusted_key=KEY)
    assert verdict.problem == "malformed" and words in verdict.reason
    assert check_bundle_json(b"\xff\xfe", trusted_key=KEY).reason == "malformed bundle: not UTF-8 text"


# --- a citizen's own entry ---------------------------------------------------------------------


def citizens(session, seq: int, ref: str = MINE, now: dt.datetime = T0 + dt.timedelta(seconds=3)):
    return citizen_entry_proof(
        session, seq=seq, citizen_ref=ref, public_key=KEY, log_id=LOG_ID, policy=POLICY, now=now
    )


def test_a_citizens_covered_entry_is_checked_and_an_unsigned_one_says_when(db_session, log):
    covered = citizens(db_session, log["covered"][3])
    assert covered.verdict is not None and covered.verdict.ok and covered.next_due is None
    assert covered.tree_size == log["theirs"][0] + 1 and covered.signed_at == T0
    later = citizens(db_session, log["later"][0])
    assert later.bundle is None and later.verdict is None
    assert later.next_due == T0 + dt.timedelta(seconds=5), "the interval after the last checkpoint"
    overdue = citizens(db_session, log["later"][0], now=T0 + dt.timedelta(minutes=1))
    assert overdue.next_due == T0 + dt.timedelta(minutes=1)


def test_another_citizens_entry_or_another_kind_is_not_found(db_session, log):
    with pytest.raises(NotFound):
        citizens(db_session, log["theirs"][0])
    refreshed = append(db_session, Event(kind="profile_refreshed", citizen_ref=MINE), now=T0).seq
    for seq in (refreshed, 10**12, -5):
        with pytest.raises(NotFound):
            citizens(db_session, seq)


# --- the offline verifier, as a separate program ----------------------------------------------


def verifier(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "audit.verifier", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)


def test_the_offline_verifier_checks_a_bundle(db_session, log, tmp_path):
    made = bundle(db_session, log["covered"][7])
    good, key, foreign = tmp_path / "proof.json", tmp_path / "key.pem", tmp_path / "foreign.pem"
    good.write_text(json.dumps(made, indent=2))
    key.write_bytes(public_key_pem(KEY))
    foreign.write_bytes(public_key_pem(FOREIGN.public_key()))

    ok = verifier("--bundle", str(good), "--public-key", str(key))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: entry seq {log['covered'][7]} is in log 'test-log'")
    assert "checked with your public key" in ok.stdout

    trusting = verifier("--bundle", str(good), "--trust-bundle-key")
    assert trusting.returncode == 0 and "key inside the bundle" in trusting.stdout

    tampered = tmp_path / "tampered.json"
    TAMPERING["body"][0](made)
    tampered.write_text(json.dumps(made))
    failed = verifier("--bundle", str(tampered), "--public-key", str(key))
    assert failed.returncode == 1 and failed.stdout.startswith("FAILED: body altered")

    truncated = tmp_path / "truncated.json"
    truncated.write_text(good.read_text()[:200])
    cut = verifier("--bundle", str(truncated), "--public-key", str(key))
    assert cut.returncode == 1 and cut.stdout.startswith("FAILED: malformed bundle: not valid JSON")

    wrong_key = verifier("--bundle", str(good), "--public-key", str(foreign))
    assert wrong_key.returncode == 1 and wrong_key.stdout.startswith("FAILED: foreign key")

    untrusted = verifier("--bundle", str(good))
    assert untrusted.returncode == 2 and "--trust-bundle-key" in untrusted.stderr
    missing = verifier("--bundle", str(tmp_path / "nowhere.json"), "--public-key", str(key))
    assert missing.returncode == 2 and "error:" in missing.stderr
    mixed = verifier("--bundle", str(good), "--public-key", str(key), "--checkpoint", str(good))
    assert mixed.returncode == 2
