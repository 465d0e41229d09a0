"""`python -m consent.receipt_verify` as a citizen runs it: a separate process, no database, no app,
only the standard library and `cryptography`; exit 0 with one line, or the reason and its code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from joserfc.jwk import OKPKey

from consent.receipts import receipt_document

ROOT = Path(__file__).resolve().parents[2]
RECEIPT = {
    "schema_version": "consentry-receipt/1; ISO/IEC TS 27560:2023",
    "record_id": "urn:consentry:receipt:test-log:7",
    "audit": {"log_id": "test-log", "seq": 7, "leaf_hash": "ab" * 32},
    "pii_principal": {"id": "cd" * 32, "id_type": "keyed digest"},
    "pii_controller": {"name": "Housing Board", "app_id": "housing-grant-app", "app_name": "Housing grant"},
    "purpose": {"id": "grant", "description": "To assess your housing grant application."},
    "pii_categories": {"released": ["name"], "declined": []},
    "processing": "not stated",
    "retention": "not stated",
    "jurisdiction": "SG",
    "event": {"type": "released", "time": "2026-11-23T09:00:01.000000Z"},
    "consent_id": "c-1",
    "validity": {"scope": "this release only", "from": "2026-11-23T09:00:01.000000Z"},
    "withdrawal": {"method": "portal", "url": "http://localhost/citizen/consents"},
}


def receipt_key(kid: str = "receipt-test") -> OKPKey:
    return OKPKey.import_key({**OKPKey.generate_key("Ed25519").as_dict(private=True), "kid": kid})


@pytest.fixture
def key() -> OKPKey:
    return receipt_key()


@pytest.fixture
def jwks_file(tmp_path, key) -> Path:
    path = tmp_path / "receipt-keys.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "consent.receipt_verify", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def write(tmp_path, text: str, name: str = "consent-receipt-7.json") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_valid_receipt_exits_0_with_one_line(tmp_path, key, jwks_file):
    result = run(write(tmp_path, json.dumps(receipt_document(RECEIPT, key))), "--jwks-file", str(jwks_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(
        "valid: urn:consentry:receipt:test-log:7: released at 2026-11-23T09:00:01"
    )
    assert "signed by receipt-test" in result.stdout


def test_tampered_wrong_key_truncated_and_malformed_receipts_each_say_why(tmp_path, key, jwks_file):
    document = receipt_document(RECEIPT, key)
    tampered = json.loads(json.dumps(document))
    tampered["receipt"]["pii_categories"]["declined"] = ["cpfbalances"]
    cases = [
        (json.dumps(tampered), 1, "tampered: field receipt.pii_categories.declined differs"),
        (json.dumps(receipt_document(RECEIPT, receipt_key())), 1, "tampered: the signature"),
        (
            json.dumps(receipt_document(RECEIPT, receipt_key("receipt-other"))),
            4,
            "unknown key: receipt-other",
        ),
        (json.dumps(document)[:200], 3, "truncated"),
        (document["jws"][:-20], 3, "truncated"),
        ("hello", 3, "malformed"),
    ]
    for index, (text, code, reason) in enumerate(cases):
        result = run(write(tmp_path, text, f"r{index}.json"), "--jwks-file", str(jwks_file))
        assert (result.returncode, result.stdout) == (code, ""), (index, result.stderr)
        assert reason in result.stderr, (index, result.stderr)


def test_unreadable_files_and_bad_usage(tmp_path, key, jwks_file):
    good = write(tmp_path, json.dumps(receipt_document(RECEIPT, key)))
    assert run(str(tmp_path / "missing.json"), "--jwks-file", str(jwks_file)).returncode == 5
    assert run(good, "--jwks-file", str(tmp_path / "missing.json")).returncode == 5
    assert run(good, "--jwks", "file:///etc/passwd").returncode == 5
    assert run(good).returncode == 2  # no key source
    assert run(good, "--jwks", "http://x", "--jwks-file", str(jwks_file)).returncode == 2


def test_the_verifier_needs_neither_the_app_nor_a_database():
    probe = (
        "import sys, consent.receipt_verify; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'werkzeug', 'sqlalchemy', "
        "'joserfc', 'app', 'audit', 'core', 'profile_store', 'marshmallow'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
