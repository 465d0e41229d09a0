"""An independent client of the published log, written from the specifications and not from our
code: c2sp.org/signed-note (note format, Ed25519 key hash, verifier key string),
c2sp.org/tlog-checkpoint (origin, size, root lines), c2sp.org/tlog-tiles (tile paths, height 8,
partial tiles, entry bundles) and RFC 9162 section 2.1 (MTH, PATH, inclusion and consistency
verification).

It imports nothing from `audit` to compute or check: only to drive the server side (append,
sign). One log is grown to 1,000 entries, a checkpoint signed at every size; at every size the
client fetches /log/checkpoint, verifies the note with the key from /.well-known, recomputes the
root from tiles alone, and checks an inclusion proof built from tiles for every leaf.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import session as flask_session
from sqlalchemy import select

import audit.tiles
from audit.canonical import canonical_json
from audit.checkpoint_signing import sign_checkpoint
from audit.log import Event, append
from audit.models import AuditCheckpoint, AuditHead
from audit.tree import create_checkpoint, latest_checkpoint, tree_size
from audit.verify import verify_log
from tests.factories import make_staff

SIZES = int(os.environ.get("TILES_TEST_SIZES", "1000"))

# --- the client, from the spec texts ----------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def parse_vkey(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """signed-note: <name>+<hex(key hash)>+<base64(type || key)>; Ed25519 type 0x01."""
    name, hash_hex, key_b64 = vkey.strip().split("+", 2)  # the base64 may hold "+" itself
    raw = base64.b64decode(key_b64, validate=True)
    assert raw[0] == 0x01 and len(raw) == 33
    assert sha256(name.encode() + b"\n" + raw)[:4].hex() == hash_hex  # key hash = H(name\n type key)
    return name, bytes.fromhex(hash_hex), Ed25519PublicKey.from_public_bytes(raw[1:])


def open_note(note: bytes, vkey: str) -> str:
    """Verify a signed note; return its text. Signature lines follow the last blank line."""
    text = note.decode("utf-8")
    assert text.endswith("\n")
    text_part, _, sig_part = text.rpartition("\n\n")
    body = text_part + "\n"
    name, key_hash, key = parse_vkey(vkey)
    for line in sig_part.splitlines():
        dash, signer, sig_b64 = line.split(" ")
        assert dash == "\u2014"
        sig = base64.b64decode(sig_b64, validate=True)
        if signer == name and sig[:4] == key_hash:
            key.verify(sig[4:], body.encode())  # raises InvalidSignature
            return body
    raise AssertionError("no signature by the trusted key")


def parse_checkpoint(body: str) -> tuple[str, int, bytes]:
    origin, size, root, *rest = body.split("\n")
    assert rest[-1] == ""
    return origin, int(size), base64.b64decode(root, validate=True)


def tile_path(level: int | str, index: int, width: int = 256) -> str:
    """tlog-tiles: N in 3-digit groups, every group but the last prefixed with x; .p/W if partial."""
    groups = f"{index:d}"
    groups = groups.rjust(-(-len(groups) // 3) * 3, "0")
    parts = [groups[i : i + 3] for i in range(0, len(groups), 3)]
    path = "/".join(["x" + p for p in parts[:-1]] + parts[-1:])
    return f"tile/{level}/{path}" + (f".p/{width}" if width < 256 else "")


class TileClient:
    """Hashes of the tree through tiles, fetched over HTTP; full tiles cached forever (they are
    immutable), partial ones per tree size."""

    def __init__(self, get) -> None:
        self.get, self.full, self.fetches = get, {}, 0
        self.size, self.partial = 0, {}
        self.perfect: dict[tuple[int, int], bytes] = {}  # perfect subtrees never change
        self.ranges: dict[tuple[int, int], bytes] = {}  # other subtrees, for this size only

    def at_size(self, size: int) -> None:
        self.size, self.partial, self.ranges = size, {}, {}

    def tile(self, level: int, index: int) -> bytes:
        width = min(256, (self.size >> (8 * level)) - 256 * index)
        assert width > 0
        cache = self.full if width == 256 else self.partial
        key = (level, index)
        if key not in cache:
            response = self.get("/log/" + tile_path(level, index, width))
            assert response.status_code == 200, (tile_path(level, index, width), response.status_code)
            assert len(response.data) == 32 * width
            cache[key] = response.data
            self.fetches += 1
        return cache[key]

    def node(self, height: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2**height leaves numbered `index` at that height."""
        level, extra = divmod(height, 8)
        first = index << extra  # nodes at tree height 8*level, in tile `level`
        hashes = []
        for n in range(first, first + (1 << extra)):
            tile = self.tile(level, n // 256)
            hashes.append(tile[32 * (n % 256) : 32 * (n % 256) + 32])
        while len(hashes) > 1:
            hashes = [sha256(b"\x01" + hashes[i] + hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]

    def mth(self, start: int, end: int) -> bytes:
        """RFC 9162 2.1.1 MTH(D[start:end]), perfect aligned subtrees read from tiles."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            height = n.bit_length() - 1
            if (height, start) not in self.perfect:
                self.perfect[height, start] = self.node(height, start >> height)
            return self.perfect[height, start]
        if (start, end) not in self.ranges:
            k = 1 << ((n - 1).bit_length() - 1)
            self.ranges[start, end] = sha256(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end))
        return self.ranges[start, end]

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        """RFC 9162 2.1.3.1 PATH(m, D[start:end])."""
        n = end - start
        if n == 1:
            return []
        k = 1 << ((n - 1).bit_length() - 1)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 2.1.4.2, step by step, for 0 < first < second."""
    if not 0 < first < second or not path:  # 1. an empty path fails
        return False
    if first & (first - 1) == 0:  # 2. first an exact power of 2: prepend first_hash
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1  # 3.
    while fn & 1:  # 4. right-shift both while LSB(fn) is set
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5.
    for c in path[1:]:  # 6.
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = sha256(b"\x01" + c + fr), sha256(b"\x01" + c + sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha256(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0  # 7.


def split_bundle(data: bytes) -> list[bytes]:
    """tlog-tiles entry bundle: each entry a big-endian uint16 length, then its bytes."""
    entries, at = [], 0
    while at < len(data):
        n = int.from_bytes(data[at : at + 2], "big")
        entries.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    assert at == len(data)
    return entries


# --- the tests --------------------------------------------------------------------------------


def _sign_in_as_auditor(client, db_session, runtime) -> None:
    from app.security import start_web_session

    staff = make_staff(db_session, runtime.config.secret_key, roles=("auditor",))
    db_session.commit()
    with client.application.test_request_context():
        start_web_session("staff", staff.id, now=dt.datetime.now(dt.UTC))
        signed_in = dict(flask_session)
    with client.session_transaction() as session:
        session.update(signed_in)


@pytest.fixture
def vkey(client) -> str:
    response = client.get("/.well-known/consentry-log-key")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_every_size_to_1000_verifies_from_tiles(app, client, db_session, runtime, now, vkey):
    signer = runtime.audit_signer
    base = tree_size(db_session)
    tiles = TileClient(client.get)
    leaves: list[bytes] = []
    proofs = 0
    for i in range(SIZES):
        when = now + dt.timedelta(milliseconds=i)
        append(db_session, Event(kind="admin_action", outcome=f"step {i}"), now=when)
        create_checkpoint(db_session, signer=signer, now=when)
        db_session.commit()
        response = client.get("/log/checkpoint")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        origin, size, root = parse_checkpoint(open_note(response.data, vkey))
        assert origin == "localhost/disclosures" and size == base + i + 1
        tiles.at_size(size)
        assert tiles.mth(0, size) == root
        leaves = [tiles.mth(n, n + 1) for n in range(size)]
        for m in range(size):  # every leaf, from tiles only
            assert verify_inclusion(leaves[m], m, size, tiles.path(m, 0, size), root)
            proofs += 1
    # Our existing proofs API agrees with the tiles (same leaf hashes, same tree).
    for m in sorted({0, 1, 255, 256, 511, size - 1} & set(range(size))):
        proof = client.get(f"/api/audit/proofs/inclusion?seq={m}&tree_size={size}").get_json()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert verify_inclusion(leaves[m], m, size, path, root)
    assert proofs == sum(range(base + 1, base + SIZES + 1))


def test_tiles_are_cached_by_kind_and_bounded_by_the_checkpoint(client, db_session, runtime, now):
    for i in range(300):
        append(db_session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    for i in range(20):  # not yet under a checkpoint: not served
        append(db_session, Event(kind="admin_action", outcome=f"late {i}"), now=now)
    db_session.commit()
    size = latest_checkpoint(db_session).tree_size
    full = client.get("/log/" + tile_path(0, 0))
    assert full.status_code == 200 and "immutable" in full.headers["Cache-Control"]
    assert "max-age=31536000" in full.headers["Cache-Control"]
    partial = client.get("/log/" + tile_path(0, size // 256, size % 256))
    assert partial.status_code == 200 and "immutable" not in partial.headers["Cache-Control"]
    assert client.get("/log/" + tile_path(0, size // 256, size % 256 + 1)).status_code == 404
    assert client.get("/log/" + tile_path(1, 0)).status_code == 404
    for bad in ("tile/0/0", "tile/0/x000/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/64/000"):
        assert client.get("/log/" + bad).status_code == 404


def test_entry_bundles_are_for_auditors_only(client, db_session, runtime, now):
    for i in range(260):
        append(db_session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()
    size = latest_checkpoint(db_session).tree_size
    path = "/log/" + tile_path("entries", 0)
    refused = client.get(path)
    assert refused.status_code in (302, 401, 403) and not refused.data.startswith(b"\x00")
    _sign_in_as_auditor(client, db_session, runtime)
    bundle = client.get(path)
    assert bundle.status_code == 200
    bodies = split_bundle(bundle.data)
    assert len(bodies) == 256
    tiles = TileClient(client.get)
    tiles.at_size(size)
    for n, body in enumerate(bodies):
        assert json.loads(body)["seq"] == n
        assert sha256(b"\x00" + body) == tiles.node(0, n)  # RFC 9162 leaf hash of the entry


def test_old_json_checkpoints_still_verify(client, db_session, runtime, now):
    """A checkpoint row as signed before notes existed: no note columns, only the JSON signature."""
    for i in range(5):
        append(db_session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    noted = create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    append(db_session, Event(kind="admin_action", outcome="later"), now=now)
    db_session.flush()
    signer, size = runtime.audit_signer, noted.tree_size + 1
    body = json.loads(client.get(f"/api/audit/proofs/inclusion?seq=0&tree_size={size}").data)
    old = {
        "log_id": signer.log_id,
        "tree_size": size,
        "root_hash": body["root_hash"],
        "chain_head": db_session.scalar(select(AuditHead.chain_head)).hex(),
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "key_id": signer.key_id,
    }
    signed = sign_checkpoint(signer.private_key, old)
    db_session.add(
        AuditCheckpoint(
            tree_size=size,
            created_at=now.replace(microsecond=0),
            key_id=signer.key_id,
            body=canonical_json(old).decode(),
            signature=signed["signature"],
        )
    )
    db_session.commit()
    report = verify_log(db_session, public_key=signer.public_key)
    assert report.ok, str(report.first)
    assert client.get("/api/audit/checkpoints/latest").get_json()["body"]["tree_size"] == size
    # /log/checkpoint serves the latest checkpoint that has a note, tiles stay within it.
    note = client.get("/log/checkpoint").data
    assert note.split(b"\n")[1] == str(noted.tree_size).encode()


def test_publish_is_resumable(app, client, db_session, runtime, now, tmp_path: Path, monkeypatch, vkey):
    for i in range(700):
        append(db_session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()
    real, writes = audit.tiles._write_atomically, []

    def crash_after_two(target, data):
        if len(writes) == 2:
            raise OSError("disk went away")
        writes.append(target)
        real(target, data)

    monkeypatch.setattr(audit.tiles, "_write_atomically", crash_after_two)
    first = app.test_cli_runner().invoke(args=["audit", "publish", "--to", str(tmp_path)])
    assert first.exit_code != 0 and not (tmp_path / "checkpoint").exists()
    monkeypatch.setattr(audit.tiles, "_write_atomically", real)
    second = app.test_cli_runner().invoke(args=["audit", "publish", "--to", str(tmp_path)])
    assert second.exit_code == 0, second.output
    assert "2 already there" in " ".join(second.output.split())
    # The directory is what the server serves: a client reading files verifies the same way.
    _origin, size, root = parse_checkpoint(open_note((tmp_path / "checkpoint").read_bytes(), vkey))
    files = TileClient(lambda url: _FileResponse(tmp_path / url.removeprefix("/log/")))
    files.at_size(size)
    assert files.mth(0, size) == root
    assert not list(tmp_path.rglob(".tmp-*"))
    third = app.test_cli_runner().invoke(args=["audit", "publish", "--to", str(tmp_path)])
    assert third.exit_code == 0 and f"{size // 256} already there" in " ".join(third.output.split())


class _FileResponse:
    def __init__(self, path: Path) -> None:
        self.status_code = 200 if path.is_file() else 404
        self.data = path.read_bytes() if path.is_file() else b""


def test_public_key_note_prints_the_verifier_key(app, vkey):
    result = app.test_cli_runner().invoke(args=["audit", "public-key", "--note"])
    assert result.exit_code == 0 and result.output == vkey
    parse_vkey(result.output)
