"""The published log checked by code nobody on the project wrote: Go's transparency-log packages
golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (behind sum.golang.org), driven by
the short glue in tests/thirdparty/tlogcheck (HTTP, C2SP checkpoint lines, C2SP tile paths).

The glue is built once per session from Debian's packages (golang-go, golang-golang-x-mod-dev),
offline in GOPATH mode; without them these tests skip. The app is served on a loopback port and
the Go program fetches /log/checkpoint and /log/tile/... as any monitor would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from audit.log import Event, append
from audit.models import AuditTreeNode
from audit.tree import create_checkpoint, tree_size
from tests.audit.test_tamper import _bypass_guard
from tests.servers import serving

GOPATH = Path(os.environ.get("CONSENTRY_GOPATH", "/usr/share/gocode"))  # where Debian puts x/mod
SOURCE = Path(__file__).resolve().parents[1] / "thirdparty" / "tlogcheck"
SIZES = (1, 255, 256, 257, 700)  # inside, at and across the 256-hash tile boundary, two levels


@pytest.fixture(scope="session")
def tlogcheck(tmp_path_factory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain (apt-get install golang-go)")
    if not (GOPATH / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        pytest.skip(f"no golang.org/x/mod under {GOPATH} (apt-get install golang-golang-x-mod-dev)")
    out = tmp_path_factory.mktemp("tlogcheck")
    env = {
        **os.environ,
        # No module proxy here: GOPATH mode resolves x/mod from Debian's source tree.
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOCACHE": str(out / "cache"),
        "CGO_ENABLED": "0",  # no C compiler needed
    }
    built = subprocess.run(
        [go, "build", "-o", str(out / "tlogcheck"), "."], cwd=SOURCE, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return out / "tlogcheck"


@pytest.fixture
def served(app) -> str:
    """The test's app (its sessions on the test's connection) on a loopback port. The Go program
    fetches one URL at a time while the test waits for it, so the connection is never shared."""
    with serving(lambda _url: app) as (url, _app):
        yield url


def run(binary: Path, url: str, key: str, *args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [str(binary), "-url", url, "-key", key, *args], capture_output=True, text=True, timeout=120
    )
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    return done.returncode, json.loads(lines[0])


def grow_to(session, runtime, size: int, now: dt.datetime, signer=None) -> None:
    for i in range(tree_size(session), size):
        when = now + dt.timedelta(milliseconds=i)
        append(session, Event(kind="admin_action", outcome=f"step {i}"), now=when)
    create_checkpoint(session, signer=signer or runtime.audit_signer, now=now + dt.timedelta(seconds=size))
    session.commit()


def test_go_tlog_proves_every_leaf_and_consistency_across_tile_boundaries(
    tlogcheck, served, client, db_session, runtime, now, tmp_path
):
    key = client.get("/.well-known/consentry-log-key").get_data(as_text=True)
    notes: dict[int, Path] = {}
    for size in (s for s in SIZES if s > tree_size(db_session)):
        grow_to(db_session, runtime, size, now)
        code, result = run(tlogcheck, served, key)
        assert code == 0 and result["ok"], result
        assert result["origin"] == "localhost/disclosures" and result["size"] == size
        assert result["leaves_proven"] == size  # every leaf, by tlog.ProveRecord + CheckRecord
        notes[size] = tmp_path / f"checkpoint-{size}"
        notes[size].write_bytes(client.get("/log/checkpoint").data)
    assert len(notes) >= 3, "the log already held most of the sizes this test grows through"
    newest = max(notes)
    for older in sorted(notes)[:-1]:  # tlog.ProveTree + CheckTree from each older checkpoint
        code, result = run(tlogcheck, served, key, "-old", str(notes[older]), "-leaves", "0")
        assert code == 0 and result["consistent_with"] == older and result["size"] == newest, result


# What x/mod says when tiles disagree with the signed root: its tile checks ("downloaded
# inconsistent tile") or the record proof (errProofFailed from tlog.CheckRecord).
CAUGHT = ("inconsistent tile", "invalid transparency proof")


@pytest.mark.as_owner  # the attacker has the tables' owner's rights
@pytest.mark.parametrize("where", ["full tile", "partial tile"])
def test_go_tlog_rejects_an_altered_tile_byte(tlogcheck, served, client, db_session, runtime, now, where):
    size = max(700, tree_size(db_session) + 1)
    size += size % 256 == 0  # keep a partial tile at level 0
    grow_to(db_session, runtime, size, now)
    key = client.get("/.well-known/consentry-log-key").get_data(as_text=True)
    assert run(tlogcheck, served, key)[0] == 0
    leaf = 300 if where == "full tile" else size - 1  # tile 0/001, or the partial tile at the right
    _bypass_guard(db_session.connection())
    node = AuditTreeNode
    stored = db_session.get(node, (0, leaf))
    forged = bytes([stored.hash[0] ^ 0x01]) + stored.hash[1:]  # one bit of one leaf hash
    db_session.execute(update(node).where(node.level == 0, node.index == leaf).values(hash=forged))
    db_session.commit()

    code, result = run(tlogcheck, served, key)
    assert code == 1 and not result["ok"] and result["size"] == size
    assert any(words in result["error"] for words in CAUGHT), result
    if where == "partial tile":  # on the root's own path: the tree hash from tiles is wrong
        assert result["error"].startswith("tree hash") and result["leaves_proven"] == 0, result
    else:  # leaves of other tiles still prove; the first of the altered tile does not
        assert result["error"].startswith("leaf 256:") and result["leaves_proven"] == 256, result
    code, result = run(tlogcheck, served, key, "-leaves", str(leaf))
    assert code == 1 and result["leaves_proven"] == 0, result


def test_go_note_rejects_a_checkpoint_signed_by_another_key(
    tlogcheck, served, client, db_session, runtime, now
):
    grow_to(db_session, runtime, tree_size(db_session) + 3, now)
    key = client.get("/.well-known/consentry-log-key").get_data(as_text=True)
    assert run(tlogcheck, served, key)[0] == 0
    # Same origin (key name), another private key: a forger who does not hold the log's key.
    forger = dataclasses.replace(runtime.audit_signer, private_key=Ed25519PrivateKey.generate())
    grow_to(db_session, runtime, tree_size(db_session) + 1, now, signer=forger)
    assert forger.note_verifier_key() != key.strip()

    code, result = run(tlogcheck, served, key)
    assert code == 1 and not result["ok"]
    assert "checkpoint" in result["error"] and "verif" in result["error"], result
    assert result["leaves_proven"] == 0 and result["tile_fetches"] == 0
    # The forger's own key opens it: the note is well-formed, only the signer is wrong.
    assert run(tlogcheck, served, forger.note_verifier_key())[0] == 0
