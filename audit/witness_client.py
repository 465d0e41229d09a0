"""Submitting our checkpoints to the configured witnesses (c2sp.org/tlog-witness `add-checkpoint`)
and keeping their cosignatures.

Witnesses are configured as ``<submission URL prefix> <witness verifier key>`` pairs
(AUDIT_WITNESSES). Each round the submitter offers every witness the latest checkpoint it has not
cosigned, with a consistency proof from the size we last had cosigned by that witness (0 at
first); a 409 naming another size is answered once more with a proof from that size. Network
failures and unexpected answers back off (5 s doubling to 5 min) and are tried again later; they
never touch signing, which runs in another thread and transaction.

A refusal that says the log is inconsistent (422: the proof failed; 409 at the same size, or
naming a size larger than our tree) is an alarm: a row in `audit_witness_refusals`, counted on
/metrics and listed on /log/witnesses, and a structured error log line (sizes and names only).
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.errors import ConfigurationError

from . import note
from .merkle import consistency_proof
from .tiles import published_checkpoint
from .tree import DbNodeStore, checkpoint_note
from .witness_format import CosignerKey, add_checkpoint_body, cosignature_time, parse_cosigner_vkey
from .witness_models import AuditCosignature, AuditWitnessRefusal

log = structlog.get_logger(__name__)

# (url, body) -> (status, content type, body); raises OSError (or httpx errors) when unreachable.
Post = Callable[[str, bytes], tuple[int, str, bytes]]
BACKOFF_FIRST_S, BACKOFF_MAX_S = 5.0, 300.0
SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessTarget:
    url: str  # the submission prefix; requests go to <url>/add-checkpoint
    key: CosignerKey

    @property
    def name(self) -> str:
        return self.key.name


def parse_witnesses(spec: str) -> list[WitnessTarget]:
    """AUDIT_WITNESSES: entries separated by newlines or ``;``, each ``<URL prefix> <vkey>``.
    ConfigurationError naming the bad entry."""
    targets = []
    for entry in spec.replace(";", "\n").splitlines():
        if not entry.strip():
            continue
        parts = entry.split()
        if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
            raise ConfigurationError("AUDIT_WITNESSES entries are '<http(s) URL prefix> <witness key>'")
        try:
            targets.append(WitnessTarget(parts[0].rstrip("/"), parse_cosigner_vkey(parts[1])))
        except ValueError as exc:
            raise ConfigurationError(f"AUDIT_WITNESSES: {exc}") from exc
    if len({t.name for t in targets}) != len(targets):
        raise ConfigurationError("AUDIT_WITNESSES names a witness twice")
    return targets


def httpx_post(timeout_s: float = 5.0) -> Post:
    import httpx

    client = httpx.Client(timeout=timeout_s)  # keep-alive across rounds, as the spec suggests

    def post(url: str, body: bytes) -> tuple[int, str, bytes]:
        response = client.post(url, content=body)
        return response.status_code, response.headers.get("content-type", ""), response.content

    return post


@dataclass
class Outcome:
    witness: str
    tree_size: int
    result: str  # cosigned | refused | unavailable | up_to_date
    detail: str = ""


@dataclass
class WitnessSubmitter:
    """Offers the latest published checkpoint to each witness that has not cosigned it; keeps the
    back-off state between rounds (one submitter per signer process)."""

    sessions: sessionmaker[Session]
    targets: list[WitnessTarget]
    post: Post
    clock: Callable[[], dt.datetime]
    _next_try: dict[str, float] = field(default_factory=dict)
    _delay: dict[str, float] = field(default_factory=dict)

    def run_round(self) -> list[Outcome]:
        """One pass over the witnesses; never raises for a witness's failure."""
        outcomes = []
        for target in self.targets:
            if time.monotonic() < self._next_try.get(target.name, 0.0):
                continue
            try:
                outcome = self.submit(target)
            except Exception as exc:  # the witness unreachable or answering nonsense: try later
                outcome = Outcome(target.name, 0, "unavailable", type(exc).__name__)
            self._schedule(target.name, outcome)
            if outcome.result != "up_to_date":
                log.info("witness_submission", witness=outcome.witness, tree_size=outcome.tree_size,
                         result=outcome.result, detail=outcome.detail)  # fmt: skip
            outcomes.append(outcome)
        return outcomes

    def _schedule(self, name: str, outcome: Outcome) -> None:
        if outcome.result in ("cosigned", "up_to_date"):
            self._delay.pop(name, None)
            self._next_try.pop(name, None)
            return
        delay = min(BACKOFF_MAX_S, self._delay.get(name, BACKOFF_FIRST_S / 2) * 2)
        self._delay[name] = delay
        self._next_try[name] = time.monotonic() + delay

    def submit(self, target: WitnessTarget) -> Outcome:
        """Offer the latest published checkpoint to `target` (see the module docstring). No
        database transaction stays open while the witness answers."""
        with self.sessions() as session:
            checkpoint = published_checkpoint(session)
            if checkpoint is None or _has_cosignature(session, checkpoint.tree_size, target.name):
                return Outcome(target.name, checkpoint.tree_size if checkpoint else 0, "up_to_date")
            size, text = checkpoint.tree_size, checkpoint_note(checkpoint) or ""
            old = _last_cosigned_size(session, target.name)
            request = _request(session, old, size, text)
        status, ctype, answer = self.post(target.url + "/add-checkpoint", request)
        if status == 409 and ctype.startswith(SIZE_TYPE):
            held = _size(answer)
            if held is not None and held > size:
                return self._alarm(target, size, held, status, "witness holds a larger tree than ours")
            if held is not None and held != old:
                old = held
                with self.sessions() as session:
                    request = _request(session, old, size, text)
                status, ctype, answer = self.post(target.url + "/add-checkpoint", request)
        if status == 200:
            return self._keep(target, size, text, answer)
        if status == 422 or (status == 409 and not ctype.startswith(SIZE_TYPE)):
            return self._alarm(target, size, old, status, "witness refused the checkpoint as inconsistent")
        return Outcome(target.name, size, "unavailable", f"HTTP {status}")

    def _keep(self, target: WitnessTarget, size: int, text: str, answer: bytes) -> Outcome:
        body, _ = note.split_note(text)
        try:
            _, lines = note.split_note(body + "\n" + answer.decode())
        except (UnicodeDecodeError, ValueError):
            return Outcome(target.name, size, "unavailable", "malformed cosignature response")
        for sig in lines:  # lines by other keys are ignored, as the spec requires
            timestamp = cosignature_time(sig, body, target.key)
            if timestamp is None:
                continue
            encoded = base64.b64encode(sig.key_hash + sig.signature).decode()
            with transaction(self.sessions) as session:
                if not _has_cosignature(session, size, target.name):
                    session.add(
                        AuditCosignature(
                            tree_size=size,
                            witness=target.name,
                            signature=encoded,
                            cosigned_at=dt.datetime.fromtimestamp(timestamp, dt.UTC),
                            received_at=self.clock(),
                        )
                    )
            return Outcome(target.name, size, "cosigned")
        return Outcome(target.name, size, "unavailable", "no valid cosignature by the witness key")

    def _alarm(self, target: WitnessTarget, size: int, held: int | None, status: int, reason: str) -> Outcome:
        with transaction(self.sessions) as session:
            session.add(
                AuditWitnessRefusal(
                    witness=target.name,
                    tree_size=size,
                    witness_size=held,
                    status=status,
                    reason=reason,
                    occurred_at=self.clock(),
                )
            )
        log.error("audit_witness_alarm", witness=target.name, tree_size=size, witness_size=held,
                  status=status, reason=reason)  # fmt: skip
        return Outcome(target.name, size, "refused", reason)


def _request(session: Session, old: int, size: int, text: str) -> bytes:
    proof = consistency_proof(DbNodeStore(session), old, size) if 0 < old <= size else []
    return add_checkpoint_body(min(old, size), proof, text)


def _size(answer: bytes) -> int | None:
    text = answer.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and len(text) < 20 else None


def _has_cosignature(session: Session, size: int, witness: str) -> bool:
    return session.get(AuditCosignature, (size, witness)) is not None


def _last_cosigned_size(session: Session, witness: str) -> int:
    query = select(func.max(AuditCosignature.tree_size)).where(AuditCosignature.witness == witness)
    return session.scalar(query) or 0


def run_submitter(submitter: WitnessSubmitter, *, stop: threading.Event, poll_s: float = 1.0) -> None:
    """Offer new checkpoints to the witnesses every `poll_s` seconds until `stop` is set."""
    while not stop.is_set():
        submitter.run_round()
        stop.wait(poll_s)


def start_submitter(
    submitter: WitnessSubmitter, *, stop: threading.Event, poll_s: float = 1.0
) -> threading.Thread:
    """`run_submitter` in a daemon thread of its own, beside the signer: a slow or absent witness
    never delays signing."""
    thread = threading.Thread(
        target=run_submitter, args=(submitter,), kwargs={"stop": stop, "poll_s": poll_s},
        name="audit-witness-submitter", daemon=True,
    )  # fmt: skip
    thread.start()
    return thread
