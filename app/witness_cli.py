"""`consentry witness ...`: the built-in witness (audit/witness.py) that a second organisation runs
to cosign our checkpoints, with its own key and a small state directory, without our database.

    consentry witness keygen --name witness.example.org/w1 --key-file w1.pem
    consentry witness serve --name witness.example.org/w1 --key-file w1.pem --state ./w1 \\
        --log-key "$(consentry audit public-key --note)" --port 8790

It answers ``POST /add-checkpoint`` (c2sp.org/tlog-witness) and ``GET /`` (its verifier key).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

import click
import structlog
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from audit.checkpoint_signing import load_private_key_pem, new_private_key, private_key_pem
from audit.witness import Witness, WitnessState
from audit.witness_client import WitnessSubmitter, WitnessTarget, httpx_post, start_submitter
from audit.witness_format import cosigner_vkey, parse_cosigner_vkey
from core.clock import utcnow

MAX_REQUEST = 64 * 1024  # a checkpoint and 63 proof lines fit many times over
log = structlog.get_logger(__name__)


@click.group("witness")
def witness_group() -> None:
    """The built-in tlog witness (c2sp.org/tlog-witness)."""


@witness_group.command("keygen")
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.org/w1.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), required=True)
def keygen(name: str, key_file: Path) -> None:
    """Make a witness key (PKCS#8 PEM, mode 0600) and print its verifier key, which logs and
    clients configure to trust its cosignatures."""
    if key_file.exists():
        raise click.ClickException(f"{key_file} exists; not overwriting a key")
    key = new_private_key()
    try:
        vkey = cosigner_vkey(name, key.public_key())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    click.echo(vkey)


def load_witness(name: str, key_file: Path, log_keys: tuple[str, ...]) -> Witness:
    try:
        key = load_private_key_pem(key_file.read_bytes())
        return Witness.trusting(name, key, log_keys)
    except (OSError, ValueError, TypeError) as exc:
        raise click.ClickException(f"cannot set up the witness: {exc}") from None


def witness_app(witness: Witness, state: WitnessState, on_alarm=None):
    """The witness's WSGI app."""

    @Request.application
    def application(request: Request) -> Response:
        if request.path == "/" and request.method == "GET":
            return Response(witness.vkey + "\n", content_type="text/plain; charset=utf-8")
        if request.path != "/add-checkpoint":
            return Response("not found\n", status=404)
        if request.method != "POST":
            return Response("POST only\n", status=405, headers={"Allow": "POST"})
        if (request.content_length or 0) > MAX_REQUEST:
            return Response("request too large\n", status=413)
        data = request.get_data(cache=False)[: MAX_REQUEST + 1]
        answer = witness.add_checkpoint(state, data, now=int(time.time()))
        if answer.alarm is not None and on_alarm is not None:
            on_alarm(answer.alarm)
        return Response(answer.body, status=answer.status, content_type=answer.content_type)

    return application


def log_alarm(state: Path):
    """serve's alarm: one structured WARNING line, `witness_alarm`, for the operator's log
    alerting (the domain's own error line says the same in the witness's words; this one names
    what an operator acts on). A checkpoint says nothing about people, so neither does this: the
    log's origin, the size cosigned before (old) and the size refused (new), why, and the file
    keeping the refused request, which anyone can check against the log's key."""

    def on_alarm(alarm: dict) -> None:
        log.warning(
            "witness_alarm",
            origin=alarm["origin"],
            reason=alarm["reason"],
            old_size=alarm["cosigned_size"],
            new_size=alarm["submitted_size"],
            evidence=str((state / "evidence" / alarm["evidence"]).absolute()),
        )

    return on_alarm


@witness_group.command("serve")
@click.option("--name", required=True, help="The witness's name (as in its verifier key).")
@click.option("--key-file", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True)
@click.option(
    "--log-key", "log_keys", multiple=True, required=True, help="A log's note verifier key to trust."
)
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8790, show_default=True)
def serve(name: str, key_file: Path, log_keys: tuple[str, ...], state: Path, host: str, port: int) -> None:
    """Serve add-checkpoint until stopped. A refused inconsistent checkpoint is kept under
    STATE/evidence/ and raised as the alarm line `witness_alarm` (a WARNING: see log_alarm)."""
    witness = load_witness(name, key_file, log_keys)
    app = witness_app(witness, WitnessState(state), on_alarm=log_alarm(state))
    server = make_server(host, port, app, threaded=True)
    click.echo(f"witness {witness.vkey} on http://{host}:{server.server_port}/add-checkpoint", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def start_demo_witness(rt, stop: threading.Event) -> str:
    """For `consentry demo`: a built-in witness on loopback (state in a temporary directory) and
    the submitter offering it our checkpoints, so /log/checkpoint carries a cosignature and
    /log/witnesses lists it. Returns the witness's key."""
    witness = Witness.trusting(
        "demo-witness.localhost/w1", new_private_key(), [rt.audit_signer.note_verifier_key()]
    )
    state = WitnessState(Path(tempfile.mkdtemp(prefix="consentry-witness-")))
    server = make_server("127.0.0.1", 0, witness_app(witness, state), threaded=True)
    threading.Thread(target=server.serve_forever, name="demo-witness", daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    rt.config = rt.config.replace(audit_witnesses=f"{url} {witness.vkey}")
    target = WitnessTarget(url, parse_cosigner_vkey(witness.vkey))
    start_submitter(WitnessSubmitter(rt.sessions, [target], httpx_post(), utcnow), stop=stop)
    return witness.vkey
