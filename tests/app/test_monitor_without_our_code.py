"""Issue 17's promise, end to end: a monitor that knows only the log's origin, its note verifier key
and the witnesses' keys follows the log and checks a citizen's proof with none of our code.

Everything that checks here is the independent client of tests/audit/test_tiles_client.py (signed
notes, tiles, RFC 9162 proofs) plus, below, the C2SP tlog-cosignature check and the leaf hash,
written from the specifications (RFC 6962/9162 leaf = SHA-256(0x00 || data); the entry body is
canonical JSON, RFC 8785, which for these bodies, string keys and no floats, is sorted keys without
whitespace). The platform and its real witnesses on loopback only serve what is checked."""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.audit.test_tiles_client import TileClient, open_note, parse_checkpoint, verify_inclusion
from tests.oauth import flow

from .test_citizen_proof_witnesses import configure, cosign, signed, witnesses  # noqa: F401 - fixtures

COSIGNATURE_V1 = 0x04


def parse_cosigner_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """tlog-cosignature: <name>+<hex key ID>+base64(0x04 || Ed25519 public key), where the key ID is
    the first 4 bytes of SHA-256(name || 0x0A || 0x04 || public key)."""
    name, key_id_hex, key_b64 = vkey.strip().split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(key_b64, validate=True)
    assert raw[0] == COSIGNATURE_V1 and len(raw) == 33
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id_hex
    return name, bytes.fromhex(key_id_hex), Ed25519PublicKey.from_public_bytes(raw[1:])


def cosigners(note: bytes, witness_keys: list[str]) -> set[str]:
    """The witnesses among `witness_keys` whose cosignature on the note verifies: a signature line
    "— <name> base64(key ID || u64 big-endian timestamp || signature)", the signature over
    "cosignature/v1\\ntime <timestamp>\\n" followed by the note's text."""
    text, _, signatures = note.decode("utf-8").rpartition("\n\n")
    body = (text + "\n").encode()
    keys = {key_id: (name, key) for name, key_id, key in map(parse_cosigner_key, witness_keys)}
    confirmed = set()
    for line in signatures.splitlines():
        _dash, name, blob_b64 = line.split(" ")
        blob = base64.b64decode(blob_b64, validate=True)
        if len(blob) != 4 + 8 + 64 or blob[:4] not in keys or keys[blob[:4]][0] != name:
            continue  # the log's own signature, or a witness we do not know
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        try:
            keys[blob[:4]][1].verify(blob[12:], b"cosignature/v1\ntime %d\n" % timestamp + body)
        except InvalidSignature:
            continue
        confirmed.add(name)
    return confirmed


def _last_bytes_flipped(note: bytes) -> bytes:
    """The note with the last byte of every signature flipped (each line still well formed)."""
    text, _, signatures = note.decode().rpartition("\n\n")
    lines = []
    for line in signatures.splitlines():
        dash, name, blob_b64 = line.split(" ")
        blob = bytearray(base64.b64decode(blob_b64))
        blob[-1] ^= 1
        lines.append(f"{dash} {name} {base64.b64encode(bytes(blob)).decode()}")
    return ("\n".join([text, "", *lines]) + "\n").encode()


def leaf_hash(body: dict) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"\x00" + canonical.encode("utf-8")).digest()


def test_a_monitor_follows_the_witnessed_log_and_checks_a_citizens_proof(
    app,
    client,
    sessions,
    citizen,
    signed,  # noqa: F811
    witnesses,  # noqa: F811
):
    first, second = witnesses
    cosign(sessions, first)
    cosign(sessions, second)
    configure(app, witnesses, quorum=2)
    # What the monitor is told, out of band: the origin, the log's key, the witnesses' keys.
    log_key = client.get("/.well-known/consentry-log-key").get_data(as_text=True).strip()
    origin = log_key.split("+")[0]
    witness_keys = [first.witness.vkey, second.witness.vkey]

    note = client.get("/log/checkpoint").data
    note_origin, size, root = parse_checkpoint(open_note(note, log_key))
    assert note_origin == origin
    assert cosigners(note, witness_keys) == {first.witness.name, second.witness.name}
    tiles = TileClient(client.get)
    tiles.at_size(size)
    assert tiles.mth(0, size) == root

    # The citizen downloads their proof and hands the monitor the file.
    flow.sign_in(client, citizen.id)
    bundle = json.loads(client.get(f"/citizen/history/{signed}/proof.json").data)
    proof_note = bundle["checkpoint_note"].encode()
    _origin, proof_size, proof_root = parse_checkpoint(open_note(proof_note, log_key))
    assert len(cosigners(proof_note, witness_keys)) == 2
    entry, proof = bundle["entry"], bundle["proof"]
    leaf = leaf_hash(entry["body"])
    assert leaf.hex() == entry["leaf_hash"]
    assert proof["tree_size"] == proof_size
    path = [bytes.fromhex(h) for h in proof["audit_path"]]
    assert verify_inclusion(leaf, proof["leaf_index"], proof_size, path, proof_root)
    # The same leaf is in the log the monitor follows, at the same place.
    assert tiles.mth(proof["leaf_index"], proof["leaf_index"] + 1) == leaf

    # And the checks are not vacuous: a changed entry, cosignature or witness key fails.
    changed = {**entry["body"], "outcome": "denied"}
    assert not verify_inclusion(leaf_hash(changed), proof["leaf_index"], proof_size, path, proof_root)
    assert cosigners(_last_bytes_flipped(proof_note), witness_keys) == set()
    stranger = first.witness.vkey.replace(first.witness.name, "someone.example/w9", 1)
    with pytest.raises(AssertionError):  # a key whose ID does not match its name is refused
        parse_cosigner_key(stranger)
