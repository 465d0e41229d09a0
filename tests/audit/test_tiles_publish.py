"""Publishing tiles is incremental: a publish into a directory that holds an earlier checkpoint
writes only the tiles the log's growth touched (it does not even look at the full tiles that
checkpoint vouches for), and the directory still verifies from the files alone."""

from __future__ import annotations

from pathlib import Path

from audit.log import Event, append
from audit.tiles import publish, tiles_for
from audit.tree import create_checkpoint

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
    first = publish(db_session, tmp_path)
    assert (first.tree_size, first.skipped) == (before, 0)
    after = grow(db_session, signer, now, 300)
    second = publish(db_session, tmp_path)
    unchanged = {t for t in tiles_for(before) if t.full}
    assert second.written == len([t for t in tiles_for(after) if t not in unchanged])
    assert second.skipped == len(unchanged)
    # The files a static host would serve verify on their own, from the checkpoint's signed root.
    vkey = signer.note_verifier_key()
    _origin, size, root = parse_checkpoint(open_note((tmp_path / "checkpoint").read_bytes(), vkey))
    files = TileClient(lambda url: _FileResponse(tmp_path / url.removeprefix("/log/")))
    files.at_size(size)
    assert size == after and files.mth(0, size) == root
    # A directory holding another log's checkpoint vouches for nothing: every tile is looked at.
    (tmp_path / "checkpoint").write_text(f"someone.else/log\n{after}\nAAAA\n\n", encoding="utf-8")
    third = publish(db_session, tmp_path)
    assert third.skipped == len({t for t in tiles_for(after) if t.full}) and third.written >= 1
