"""The independent client of tests/audit/test_tiles_client.py (written from the RFC and the C2SP
specs, importing nothing from `audit` to check) against the server's own proofs: every consistency
proof of /api/audit/proofs/consistency for every pair of sizes up to 32 and two hundred random
pairs up to 1,000, every inclusion proof of /api/audit/proofs/inclusion at sizes around a tile
boundary and every seventh (and the last few) at 1,000, each against roots the client computed
from tiles alone. And a log with a configured origin (AUDIT_LOG_ORIGIN) followed by that client
with nothing but the published key."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from app import create_app
from audit.log import Event, append
from audit.tree import create_checkpoint, tree_size

from .test_tiles_client import (  # noqa: F401 - vkey is a fixture
    TileClient,
    open_note,
    parse_checkpoint,
    parse_vkey,
    verify_consistency,
    verify_inclusion,
    vkey,
)

SIZE = 1000
# Every leaf at these sizes; at SIZE a stride and its last leaves: each proof is a request, and
# the tiles test already proves every leaf at every size from 1 to 1,000 with the client's own
# paths. (Every pair up to 64 and every leaf at 1,000 took over 4 minutes on PostgreSQL under load.)
INCLUSION_SIZES = (1, 2, 3, 255, 256, 257)
SIZE_LEAVES = (*range(0, SIZE, 7), *range(SIZE - 8, SIZE))


def _grow_to(session, signer, now, size: int) -> None:
    base = tree_size(session)
    assert base < size
    for i in range(size - base):
        append(session, Event(kind="admin_action", outcome=f"e{i}"), now=now)
    create_checkpoint(session, signer=signer, now=now)
    session.commit()


def test_the_servers_consistency_and_inclusion_proofs_verify_independently(
    client,
    db_session,
    runtime,
    now,
    vkey,  # noqa: F811
):
    _grow_to(db_session, runtime.audit_signer, now, SIZE)
    _origin, size, root = parse_checkpoint(open_note(client.get("/log/checkpoint").data, vkey))
    assert size == SIZE
    tiles = TileClient(client.get)
    tiles.at_size(size)
    assert tiles.mth(0, size) == root
    # Every root and leaf from tiles alone (RFC 9162 MTH), checked against the signed root above.
    roots = {n: tiles.mth(0, n) for n in range(1, size + 1)}
    leaves = [tiles.mth(n, n + 1) for n in range(size)]

    def consistency(m: int, n: int) -> list[bytes]:
        response = client.get(f"/api/audit/proofs/consistency?first={m}&second={n}")
        assert response.status_code == 200, (m, n, response.status_code)
        body = response.get_json()
        assert (body["first"], body["second"]) == (m, n)
        assert (bytes.fromhex(body["first_root"]), bytes.fromhex(body["second_root"])) == (roots[m], roots[n])
        proof = [bytes.fromhex(h) for h in body["consistency_path"]]
        assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
        return proof

    rng = random.Random(9162)  # fixed: a failure names a pair that fails again
    small = [(m, n) for n in range(2, 33) for m in range(1, n)]
    large = {tuple(sorted(rng.sample(range(1, size + 1), 2))) for _ in range(200)}
    for m, n in [*small, *sorted(large)]:
        consistency(m, n)
    assert len(small) == 496 and len(large) >= 190
    # The client's check is not vacuous: a changed hash, a wrong root or a dropped hash fail.
    proof = consistency(300, size)
    assert not verify_consistency(300, size, roots[300], roots[size], [proof[0][::-1], *proof[1:]])
    assert not verify_consistency(300, size, roots[299], roots[size], proof)
    assert not verify_consistency(300, size, roots[300], roots[size], proof[:-1])

    pairs = [*((n, m) for n in INCLUSION_SIZES for m in range(n)), *((size, m) for m in SIZE_LEAVES)]
    for n, m in pairs:
        body = client.get(f"/api/audit/proofs/inclusion?seq={m}&tree_size={n}").get_json()
        assert (body["leaf_index"], body["tree_size"]) == (m, n)
        assert bytes.fromhex(body["root_hash"]) == roots[n]
        path = [bytes.fromhex(h) for h in body["audit_path"]]
        assert verify_inclusion(leaves[m], m, n, path, roots[n]), (m, n)
    assert len(pairs) == sum(INCLUSION_SIZES) + len(SIZE_LEAVES)


ORIGIN = "consent.example.gov/disclosures"


@pytest.fixture
def origin_app(base_config, engine, sessions):
    application = create_app(replace(base_config, audit_log_origin=ORIGIN), engine=engine)
    application.extensions["consentry"].use_sessions(sessions)
    yield application
    application.extensions["consentry"].close()


def test_a_configured_origin_names_the_log_and_the_client_follows_it(origin_app, db_session, now, vkey):  # noqa: F811
    client = origin_app.test_client()
    key = client.get("/.well-known/consentry-log-key").get_data(as_text=True)
    name, _, _ = parse_vkey(key)
    assert name == ORIGIN and key.startswith(ORIGIN + "+")
    signer = origin_app.extensions["consentry"].audit_signer
    tiles = TileClient(client.get)
    for grow in (300, 300):  # the client follows the log from one checkpoint to the next
        base = tree_size(db_session)
        _grow_to(db_session, signer, now, base + grow)
        served = client.get("/log/checkpoint").data
        assert served.split(b"\n")[0] == ORIGIN.encode()
        origin, size, root = parse_checkpoint(open_note(served, key))
        assert (origin, size) == (ORIGIN, base + grow)
        tiles.at_size(size)
        assert tiles.mth(0, size) == root
        for m in (0, base, size - 1):
            assert verify_inclusion(tiles.mth(m, m + 1), m, size, tiles.path(m, 0, size), root)
        if base:
            proof = client.get(f"/api/audit/proofs/consistency?first={base}&second={size}").get_json()
            path = [bytes.fromhex(h) for h in proof["consistency_path"]]
            assert verify_consistency(base, size, tiles.mth(0, base), root, path)
    # Under the default origin's key (PUBLIC_BASE_URL's host) the note does not verify.
    with pytest.raises(AssertionError, match="no signature by the trusted key"):
        open_note(served, vkey)
