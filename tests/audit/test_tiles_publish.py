"""Publishing tiles is incremental: a publish into a directory that holds an earlier checkpoint
writes only the tiles the log's growth touched (it does not even look at the full tiles that
checkpoint vouches for), and the directory still verifies from the files alone. That checkpoint
vouches only once it is ours (our key, our root at its size); a directory holding another history
is refused, untouched. The checkpoint written carries the witnesses' cosignatures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit import note
from audit.log import Event, append
from audit.signer import AuditSigner
from audit.tiles import PublishedElsewhere, publish, published_checkpoint, tiles_for
from audit.tree import checkpoint_note, create_checkpoint
from audit.witness_format import check_quorum, cosign, cosigner_vkey
from audit.witness_models import AuditCosignature

from .test_tiles_client import TileClient, _FileResponse, open_note, parse_checkpoint


def grow(session, signer, now, n: int) -> int:
    for i in range(n):
        append(session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    checkpoint = create_checkpoint(session, signer=signer, now=now)
    session.commit()
    return checkpoint.tree_size


def test_a_publish_after_growth_writes_only_what_the_growth_touched(db_session, runtime, now, tmp_path: Path):
    signer = runtime.audit_signer
    before = grow(db_session, signer, now, 600)
    first = publish(db_session, tmp_path, log_vkey=signer.note_verifier_key())
    assert (first.tree_size, first.skipped) == (before, 0)
    after = grow(db_session, signer, now, 300)
    second = publish(db_session, tmp_path, log_vkey=signer.note_verifier_key())
    unchanged = {t for t in tiles_for(before) if t.full}
    assert second.written == len([t for t in tiles_for(after) if t not in unchanged])
    assert second.skipped == len(unchanged)
    # The files a static host would serve verify on their own, from the checkpoint's signed root.
    vkey = signer.note_verifier_key()
    _origin, size, root = parse_checkpoint(open_note((tmp_path / "checkpoint").read_bytes(), vkey))
    files = TileClient(lambda url: _FileResponse(tmp_path / url.removeprefix("/log/")))
    files.at_size(size)
    assert size == after and files.mth(0, size) == root


def test_the_published_checkpoint_carries_the_witness_cosignatures(db_session, runtime, now, tmp_path: Path):
    signer = runtime.audit_signer
    size = grow(db_session, signer, now, 5)
    witness_key, name = Ed25519PrivateKey.generate(), "mirror-witness.example/w1"
    body, _ = note.split_note(checkpoint_note(published_checkpoint(db_session)))
    line = cosign(witness_key, name, body, 1_700_000_000)
    db_session.add(
        AuditCosignature(
            tree_size=size,
            witness=name,
            signature=line.split(" ")[2].strip(),
            cosigned_at=now,
            received_at=now,
        )
    )
    db_session.commit()
    publish(db_session, tmp_path, log_vkey=signer.note_verifier_key())
    mirrored = (tmp_path / "checkpoint").read_text(encoding="utf-8")
    witnessed = check_quorum(
        mirrored,
        log_vkey=signer.note_verifier_key(),
        witness_vkeys=[cosigner_vkey(name, witness_key.public_key())],
        quorum=1,
    )
    assert witnessed.checkpoint.tree_size == size and name in witnessed.cosigners


def _forged(signer: AuditSigner, size: int, root: bytes) -> str:
    body = note.checkpoint_body(signer.note_origin, size, root)
    return note.note_text(body, signer.note_origin, signer.sign_note(body))


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", ["another key", "another root", "larger tree", "not a note"])
def test_a_directory_holding_another_history_is_refused_and_left_alone(
    app, db_session, runtime, now, tmp_path: Path, case: str
):
    signer = runtime.audit_signer
    size = grow(db_session, signer, now, 300)
    publish(db_session, tmp_path, log_vkey=signer.note_verifier_key())
    ours = (tmp_path / "checkpoint").read_text(encoding="utf-8")
    stranger = AuditSigner("stranger", Ed25519PrivateKey.generate(), signer.note_origin)
    ours_root = note.parse_checkpoint(note.verify_note(ours, signer.note_verifier_key())).root_hash
    planted, expected = {
        # Same origin, someone else's key: it vouches for nothing of ours.
        "another key": (_forged(stranger, size, ours_root), "not a checkpoint signed with our log key"),
        # Our key, a root our tree does not have at that size: a fork (a split view was published).
        "another root": (_forged(signer, 256, os.urandom(32)), "its root at tree size 256 is not our tree's"),
        # Our key, more than we have: our log was rolled back, or someone else published ahead.
        "larger tree": (_forged(signer, size + 50, os.urandom(32)), f"tree size {size + 50} is larger"),
        "not a note": (f"someone.else/log\n{size}\nAAAA\n\n", "not a checkpoint signed with our log key"),
    }[case]
    (tmp_path / "checkpoint").write_text(planted, encoding="utf-8")
    grow(db_session, signer, now, 10)  # something new to publish
    before = _files(tmp_path)
    with pytest.raises(PublishedElsewhere, match=expected):
        publish(db_session, tmp_path, log_vkey=signer.note_verifier_key())
    result = app.test_cli_runner().invoke(args=["audit", "publish", "--to", str(tmp_path)])
    assert result.exit_code == 1 and expected in " ".join(result.output.split()), result.output
    assert _files(tmp_path) == before  # nothing written, nothing overwritten
    assert not list(tmp_path.rglob(".tmp-*"))
