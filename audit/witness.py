"""The built-in witness (c2sp.org/tlog-witness `add-checkpoint`): what a second organisation runs to
cosign our checkpoints without our database. Its state is one small JSON file per log under a
directory of its own: the latest checkpoint it cosigned (size, root, note).

A checkpoint is cosigned only if it is signed by a trusted log key and is an append-only
extension of the last one cosigned for that log (an RFC 6962 consistency proof from the old size,
which must be the size the witness holds). A refusal because the log is not consistent with what
was cosigned (a bad proof, or the same size with another root) is an alarm: logged (structured,
origin and sizes only: checkpoints say nothing about people), handed to the caller, and the
request kept under ``evidence/`` as the proof of the log's misbehaviour the spec allows keeping.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import note
from .merkle import EMPTY_ROOT, verify_consistency
from .witness_format import cosign, cosigner_vkey, parse_add_checkpoint

log = structlog.get_logger(__name__)

TEXT = "text/plain; charset=utf-8"
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to an add-checkpoint request, and the alarm when it refused an inconsistent
    checkpoint (None otherwise)."""

    status: int
    body: bytes
    content_type: str = TEXT
    alarm: dict | None = None


@dataclass(frozen=True)
class Cosigned:
    size: int
    root: bytes
    note: str


class WitnessState:
    """The latest cosigned checkpoint per log origin, as files under `directory`. Checking the old
    size and recording the new checkpoint happen under one lock (a thread lock and an exclusive
    file lock, so two witness processes on one directory are safe too), which the spec requires:
    otherwise two requests could roll the recorded size back."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread_lock = threading.Lock()

    def _path(self, origin: str) -> Path:
        return self.directory / f"log-{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._thread_lock, (self.directory / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def latest(self, origin: str) -> Cosigned | None:
        path = self._path(origin)
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return Cosigned(data["size"], base64.b64decode(data["root"]), data["note"])

    def record(self, origin: str, cosigned: Cosigned) -> None:
        """Persist before answering (the spec's MUST): written to a temporary file, synced, renamed."""
        data = {"origin": origin, "size": cosigned.size, "root": base64.b64encode(cosigned.root).decode()}
        data["note"] = cosigned.note
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._path(origin))

    def keep_evidence(self, origin: str, request: bytes, timestamp: int) -> Path:
        evidence = self.directory / "evidence"
        evidence.mkdir(exist_ok=True)
        path = evidence / f"{timestamp}-{hashlib.sha256(request).hexdigest()[:16]}.txt"
        path.write_bytes(request)
        return path


@dataclass(frozen=True)
class Witness:
    """A witness: its name and key, and the note verifier keys it trusts, by log origin."""

    name: str
    private_key: Ed25519PrivateKey
    logs: dict[str, tuple[str, ...]]

    @classmethod
    def trusting(cls, name: str, private_key: Ed25519PrivateKey, log_vkeys: Sequence[str]) -> Witness:
        """A witness trusting the given log verifier keys (each names its log's origin). ValueError
        on a malformed key."""
        logs: dict[str, tuple[str, ...]] = {}
        for vkey in log_vkeys:
            origin, _, _ = note.parse_verifier_key(vkey)
            logs[origin] = (*logs.get(origin, ()), vkey.strip())
        cosigner_vkey(name, private_key.public_key())  # ValueError on a bad name
        return cls(name, private_key, logs)

    @property
    def vkey(self) -> str:
        return cosigner_vkey(self.name, self.private_key.public_key())

    def add_checkpoint(self, state: WitnessState, request: bytes, *, now: int) -> Answer:
        """Answer one add-checkpoint request (c2sp.org/tlog-witness) at POSIX time `now`: 200
        with the cosignature line; 400 malformed; 404 unknown origin; 403 no trusted signature;
        409 (body: the size held, `text/x.tlog.size`) when the old size is not the size held, or
        409 when it is the same size with another root; 422 when the consistency proof fails."""
        try:
            submitted = parse_add_checkpoint(request)
            body, _ = note.split_note(submitted.note)
            checkpoint = note.parse_checkpoint(body)
        except ValueError as exc:
            return Answer(400, f"{exc}\n".encode())
        trusted = self.logs.get(checkpoint.origin)
        if trusted is None:
            return Answer(404, b"unknown log origin\n")
        if not any(_verifies(submitted.note, vkey) for vkey in trusted):
            return Answer(403, b"no signature by a trusted log key\n")
        if submitted.old_size > checkpoint.tree_size:
            return Answer(400, b"old size is larger than the checkpoint's\n")
        with state.locked():
            return self._check_and_cosign(state, checkpoint, body, submitted, request, now)

    def _check_and_cosign(self, state, checkpoint, body, submitted, request, now) -> Answer:
        held = state.latest(checkpoint.origin)
        held_size = held.size if held else 0
        if submitted.old_size != held_size:
            return Answer(409, f"{held_size}\n".encode(), SIZE_TYPE)
        old_root = held.root if held else EMPTY_ROOT
        if held is not None and held.size == checkpoint.tree_size and held.root != checkpoint.root_hash:
            return self._refuse(state, 409, "same size, different root", checkpoint, held_size, request, now)
        if submitted.old_size == 0 and submitted.proof:
            return Answer(422, b"the proof must be empty when the old size is 0\n")
        if held is not None and held.size < checkpoint.tree_size:
            args = (held.size, checkpoint.tree_size, old_root, checkpoint.root_hash, submitted.proof)
            if not verify_consistency(*args):
                return self._refuse(
                    state, 422, "consistency proof failed", checkpoint, held_size, request, now
                )
        elif submitted.proof:
            return Answer(422, b"the proof must be empty when the sizes are equal\n")
        state.record(checkpoint.origin, Cosigned(checkpoint.tree_size, checkpoint.root_hash, submitted.note))
        log.info("witness_cosigned", origin=checkpoint.origin, tree_size=checkpoint.tree_size)
        return Answer(200, cosign(self.private_key, self.name, body, now).encode())

    def _refuse(self, state, status, reason, checkpoint, held_size, request, now) -> Answer:
        evidence = state.keep_evidence(checkpoint.origin, request, now)
        alarm = {
            "origin": checkpoint.origin,
            "reason": reason,
            "cosigned_size": held_size,
            "submitted_size": checkpoint.tree_size,
            "evidence": evidence.name,
        }
        log.error("witness_refused_inconsistent_checkpoint", **alarm)
        return Answer(status, f"refused: {reason}\n".encode(), TEXT, alarm)


def _verifies(text: str, vkey: str) -> bool:
    try:
        note.verify_note(text, vkey)
    except ValueError:
        return False
    return True
