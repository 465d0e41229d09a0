"""The developer portal's open-log page (/developers/log): what it publishes is enough to follow the
log without our code. With only the origin and the log key read off the page, the spec-written
client of tests/audit/test_tiles_client.py verifies /log/checkpoint and recomputes its root from
the tiles; the witness keys it lists are the configured ones; its commands (the offline verifier,
running a witness) carry this deployment's keys, and a witness started with that log key cosigns
our checkpoint."""

from __future__ import annotations

import html
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.log import Event, append
from audit.tree import create_checkpoint, tree_size
from audit.witness import Witness, WitnessState
from audit.witness_format import add_checkpoint_body
from tests.audit.test_tiles_client import TileClient, open_note, parse_checkpoint


def shown(page: str, element_id: str) -> str:
    match = re.search(rf'<code id="{element_id}">([^<]+)</code>', page)
    assert match, element_id
    return html.unescape(match.group(1))


def test_the_page_is_enough_to_follow_the_log(client, db_session, runtime, now):
    base = tree_size(db_session)  # tests on this worker before this one may have committed entries
    for _ in range(300):
        append(db_session, Event(kind="admin_action", outcome="ok"), now=now)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()

    page = client.get("/developers/log").get_data(as_text=True)
    origin, log_key = shown(page, "log-origin"), shown(page, "log-key")
    assert client.get("/.well-known/consentry-log-key").get_data(as_text=True).strip() == log_key
    body = open_note(client.get("/log/checkpoint").data, log_key)
    name, size, root = parse_checkpoint(body)
    assert (name, size) == (origin, base + 300)
    tiles = TileClient(client.get)
    tiles.at_size(size)
    assert tiles.mth(0, size) == root
    assert "No witnesses are configured for this deployment yet." in page
    assert "http://localhost/log/tile/0/000" in page
    assert 'href="/developers/log"' in client.get("/developers/").get_data(as_text=True)  # in the menu


def test_witness_keys_and_commands_are_this_deployments(app, client, db_session, runtime, now, tmp_path):
    keys = [
        Witness.trusting(
            f"w{n}.example.org/w1", Ed25519PrivateKey.generate(), [runtime.audit_signer.note_verifier_key()]
        )
        for n in (1, 2)
    ]
    rt = app.extensions["consentry"]
    spec = ";".join(f"https://w{n}.example.org {w.vkey}" for n, w in enumerate(keys, 1))
    rt.config = rt.config.replace(audit_witnesses=spec, audit_witness_quorum=2)
    append(db_session, Event(kind="admin_action", outcome="ok"), now=now)
    create_checkpoint(db_session, signer=runtime.audit_signer, now=now)
    db_session.commit()

    page = html.unescape(client.get("/developers/log").get_data(as_text=True))
    log_key = runtime.audit_signer.note_verifier_key()
    assert (
        "2 witnesses cosign our checkpoints; a checkpoint counts as witnessed with 2 valid cosignatures"
        in (" ".join(page.split()))
    )
    verify = re.search(r"python -m audit\.verifier --bundle [^<]+", page).group(0)
    assert f"--log-key '{log_key}'" in verify and "--quorum 2" in verify
    assert all(f"--witness '{w.vkey}'" in verify for w in keys)

    # The witness command's --log-key is the key to trust: a witness trusting it cosigns what
    # /log/checkpoint serves.
    serve = re.search(r"consentry witness serve [^<]+", page).group(0)
    trusted = re.search(r"--log-key '([^']+)'", serve).group(1)
    witness = Witness.trusting("new.example.org/w1", Ed25519PrivateKey.generate(), [trusted])
    served = client.get("/log/checkpoint").get_data(as_text=True)
    answer = witness.add_checkpoint(WitnessState(tmp_path / "w"), add_checkpoint_body(0, [], served), now=1)
    assert answer.status == 200
