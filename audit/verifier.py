"""Standalone verifier of an audit log export against a signed checkpoint.

An outside auditor runs it with the export (JSON Lines), a signed checkpoint and the platform's
published public key; it needs no database and no application code, only the standard library
and `cryptography`. It streams the export, keeping only a bit per entry name seen (to find an
entry named twice), and stops at the first problem, because every later position depends on the
earlier ones.

    python -m audit.verifier EXPORT.jsonl --checkpoint CP.json --public-key KEY.pem \\
        [--prev-chain-hash HEX]

With `--bundle` it checks one entry's inclusion-proof bundle instead (audit/proof_check.py), e.g.
one a citizen downloaded from "Who has my data"; the key inside the bundle is used only with
`--trust-bundle-key`, and the output then says so:

    python -m audit.verifier --bundle PROOF.json (--public-key KEY.pem | --trust-bundle-key)

Witnesses (audit/witness_verify.py): with ``--log-key VKEY --witness VKEY ... [--quorum N]`` a
bundle's checkpoint must also be cosigned by N of the given witnesses, and an export must hold
the tree of a cosigned note given with ``--witnessed NOTE`` (a rollback or rewrite below it fails).

Exit status: 0 verified, 1 verification failure (the first error is printed), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import canonical_json, canonical_json_of_loaded, loads
from .checkpoint_signing import CheckpointBody, key_id, load_public_key_pem, verify_checkpoint
from .merkle import EMPTY_ROOT, ZERO_HASH, StreamingRoot
from .verifier_bundle import main_bundle, witness_policy
from .witness_verify import check_export_witnessed

FORMAT = "consentry-audit-export/1"
_ENTRY_KEYS = frozenset({"seq", "body", "leaf_hash", "chain_hash"})
_HEADER_SHAPE = f'{{"format": "{FORMAT}", "log_id": str, "first_seq": int, "count": int}}'
_ENTRY_SHAPE = '{"seq": int, "body": {...}, "leaf_hash": hex, "chain_hash": hex}'


class PartialExportError(ValueError):
    """A partial export (first_seq > 0) without a previous chain hash, or a previous chain hash
    other than zeros for an export from seq 0: a usage error, not a verification failure."""


@dataclass
class VerificationReport:
    """Outcome of `verify_export`.

    `checked` counts the entries whose seq, leaf hash and chain hash checked out; `uncovered` how
    many of those lie beyond the checkpoint's tree size (chain-checked only). `first_error` is None
    or ``{"seq", "line", "problem", "expected", "found", "id"}``, where `line` is 1-based in the
    export (1 = header, 0 = the checkpoint itself), `seq` is the log position (leaf) at which the
    export goes wrong (None when no entry is involved), and `id` the name of the entry there when
    its body names an id (integrated in a batch: its position is a leaf, not its name), else None.
    """

    ok: bool
    checked: int
    first_error: dict[str, Any] | None
    uncovered: int = 0
    root_checked: bool = False
    chain_head_checked: bool = False
    notes: list[str] = field(default_factory=list)


class _Failure(Exception):
    """The first problem found; carries the report's `first_error` dict."""

    def __init__(
        self,
        seq: int | None,
        line: int,
        problem: str,
        expected: object = "",
        found: object = "",
        *,
        entry_id: int | None = None,
    ) -> None:
        super().__init__(problem)
        self.error = dict(
            seq=seq, line=line, problem=problem, expected=str(expected), found=str(found), id=entry_id
        )


def verify_export(
    lines: Iterable[str],
    checkpoint: Any,
    public_key: Ed25519PublicKey,
    *,
    prev_chain_hash: bytes | None = None,
) -> VerificationReport:
    """Verify an export (`lines`, e.g. an open text file) against a signed `checkpoint` (the parsed
    ``{"body", "signature"}`` JSON). Checks, stopping at the first problem: the checkpoint's key_id
    and signature ("forged or swapped checkpoint") and fields; the header; then per entry that the
    line parses, seq follows on (gap / out of order / duplicate), the leaf hash and the chain hash
    recompute, and the entry's name (its body's "seq", or its "id" when integrated in a batch) is
    not one an earlier line named ("duplicate entry id N"); at seq tree_size - 1 the checkpoint's
    chain head and root; at the end that the export reaches the checkpoint and holds the header's
    count.

    A partial export (first_seq > 0) needs `prev_chain_hash`, the chain hash of entry
    first_seq - 1 from a trusted source; its leaf hashes, chain and (if covered) the checkpoint's
    chain head are checked, its root cannot be. Raises PartialExportError for a missing or wrong
    `prev_chain_hash` and OSError if reading `lines` fails; problems in the inputs are reported.
    """
    run: _Run | None = None
    try:
        cp = _checked_checkpoint(checkpoint, public_key)
        it = iter(lines)
        first_seq, count = _parse_header(next(it, ""), cp)
        run = _Run(cp, first_seq, count, _start_chain(first_seq, prev_chain_hash))
        run.check_start()
        run.entries(it)
        run.finish()
    except _Failure as failure:
        return run.report(failure.error) if run else VerificationReport(False, 0, failure.error)
    return run.report(None)


def _checked_checkpoint(checkpoint: Any, public_key: Ed25519PublicKey) -> CheckpointBody:
    body = checkpoint.get("body") if isinstance(checkpoint, dict) else None
    expected = key_id(public_key)
    if not isinstance(body, dict) or body.get("key_id") != expected:
        claimed = body.get("key_id") if isinstance(body, dict) else None
        raise _Failure(
            None, 0, "forged or swapped checkpoint: key_id is not the public key's", expected, claimed
        )
    if not verify_checkpoint(public_key, checkpoint):
        signature = str(checkpoint.get("signature"))[:100]
        raise _Failure(
            None, 0, "forged or swapped checkpoint: signature does not verify", "valid Ed25519", signature
        )
    try:
        return CheckpointBody.parse(body)
    except ValueError as exc:
        raise _Failure(None, 0, "checkpoint body malformed", "the checkpoint fields", exc) from None


def _parse_header(line: str, cp: CheckpointBody) -> tuple[int, int]:
    if not line.strip():
        raise _Failure(None, 1, "missing header: the export is empty", _HEADER_SHAPE, "")
    try:
        header = json.loads(line)
    except (ValueError, RecursionError):
        header = None
    if not (
        isinstance(header, dict)
        and header.get("format") == FORMAT
        and isinstance(header.get("log_id"), str)
        and all(type(header.get(k)) is int and header[k] >= 0 for k in ("first_seq", "count"))
    ):
        raise _Failure(None, 1, "malformed header", _HEADER_SHAPE, line.rstrip("\r\n")[:300])
    if header["log_id"] != cp.log_id:
        raise _Failure(None, 1, "checkpoint is for another log", header["log_id"], cp.log_id)
    return header["first_seq"], header["count"]


def _start_chain(first_seq: int, prev_chain_hash: bytes | None) -> bytes:
    if first_seq == 0:
        if prev_chain_hash not in (None, ZERO_HASH):
            raise PartialExportError("the export starts at seq 0, whose previous chain hash is all zeros")
        return ZERO_HASH
    if prev_chain_hash is None:
        raise PartialExportError(
            f"partial export starting at seq {first_seq}: it can only be checked relative to the chain hash "
            f"of seq {first_seq - 1} (--prev-chain-hash)"
        )
    if len(prev_chain_hash) != 32:
        raise PartialExportError("the previous chain hash must be 32 bytes")
    return prev_chain_hash


def _names_its_entry(body: dict, seq: int) -> bool:
    """A body names its position ("seq", as the log always did) or, for an entry integrated in a
    batch (docs/audit.md, "Batched integration"), its id ("id"), which is not its position: the
    line's seq is, and the chain and the root tie the body to it."""
    if "seq" in body:
        return body["seq"] == seq and type(body["seq"]) is int
    return type(body.get("id")) is int


def _id_of(body: dict) -> int | None:
    """The id a body names when its entry is named by id (its line's seq is then only a leaf)."""
    return body["id"] if "seq" not in body and type(body.get("id")) is int else None


class _Names:
    """The entry names an export has shown: a bit per name in a bytearray (names run close to
    positions: an id is a seq, ahead of its leaf by the entries still queued), a set for any far
    from it, so a doctored huge id cannot make the bytearray huge."""

    def __init__(self) -> None:
        self.bits, self.far = bytearray(), set()

    def first_time(self, name: int, position: int) -> bool:
        """Record `name` (read at leaf `position`); False when it was recorded before."""
        if not 0 <= name <= 2 * position + (1 << 23):
            new = name not in self.far
            self.far.add(name)
            return new
        index, bit = name >> 3, 1 << (name & 7)
        if index >= len(self.bits):
            self.bits.extend(bytes(index + 1 - len(self.bits) + 4096))
        new = not self.bits[index] & bit
        self.bits[index] |= bit
        return new


class _Run:
    """One pass over the entries. `next_seq`, `chain` and `line` describe the position reached and
    are kept current only when a helper needs them: the hot loop works on locals."""

    def __init__(self, cp: CheckpointBody, first_seq: int, count: int, prev_chain: bytes) -> None:
        self.cp, self.first_seq, self.count = cp, first_seq, count
        self.next_seq, self.line, self.chain = first_seq, 1, prev_chain
        self.stream = StreamingRoot()
        self.names = _Names()
        self.last_id: int | None = None  # the id at the checkpoint's last leaf, if named by id
        self.root_checked = self.chain_head_checked = False
        self.notes: list[str] = []

    def check_start(self) -> None:
        """Partial exports and checkpoints that end where the export starts."""
        if self.first_seq > 0:
            self.notes.append(
                "partial export: root not checkable, chain checked from the given previous hash"
            )
        if self.cp.tree_size < self.first_seq:
            self.notes.append("the checkpoint ends before the export starts: only its signature was checked")
        elif self.cp.tree_size == self.first_seq:
            self._check_head()  # the checkpoint is exactly the state before the first entry

    def entries(self, it: Iterator[str]) -> None:
        """The hot loop. Any anomaly hands the line to `_diagnose`, which re-checks it in the
        documented order and raises the first problem, so the common path stays branch-light."""
        # The strict parser lets canonical_json skip its type walk; anything it rejects goes to
        # _diagnose, which parses leniently to say precisely what is wrong.
        sha256, canon, parse, add = hashlib.sha256, canonical_json_of_loaded, loads, self.stream.add
        first_time = self.names.first_time
        last_covered, seq_expected, chain, line_no = (
            self.cp.tree_size - 1,
            self.next_seq,
            self.chain,
            self.line,
        )
        for text in it:
            line_no += 1
            try:
                entry = parse(text)
                seq, body = entry["seq"], entry["body"]
                leaf = sha256(b"\x00" + canon(body)).digest()
                following = sha256(chain + leaf).digest()
                good = (
                    seq == seq_expected
                    and type(seq) is int
                    and len(entry) == 4
                    and type(body) is dict
                    and entry["leaf_hash"] == leaf.hex()
                    and entry["chain_hash"] == following.hex()
                    and _names_its_entry(body, seq)
                )
            except (ValueError, KeyError, TypeError, RecursionError):
                good = False
            if not good:
                self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                self._diagnose(text, it)
                return  # only trailing blank lines get here: the export ended cleanly
            name = seq if "seq" in body else body["id"]
            if not first_time(name, seq):
                self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                kind = "seq" if "seq" in body else "id"
                problem = f"duplicate entry {kind} {name}: an earlier line names the same entry"
                raise _Failure(
                    seq, line_no, problem, f"a new {kind}", f"{kind} {name}", entry_id=_id_of(body)
                )
            chain, seq_expected = following, seq_expected + 1
            if seq <= last_covered:
                add(leaf)
                if seq == last_covered:
                    self.next_seq, self.chain, self.line = seq_expected, chain, line_no
                    self.last_id = _id_of(body)
                    self._check_head()
        self.next_seq, self.chain, self.line = seq_expected, chain, line_no

    def _diagnose(self, text: str, it: Iterator[str]) -> None:
        """Raise the first problem of a line that failed the fast checks (return for blank lines
        that end the export)."""
        seq, line = self.next_seq, self.line
        try:
            entry = json.loads(text)
        except (ValueError, RecursionError):
            if not text.strip():
                self._blank(it)
                return
            entry = None
        if not (isinstance(entry, dict) and set(entry) == _ENTRY_KEYS and isinstance(entry["body"], dict)):
            raise _Failure(seq, line, "malformed entry line", _ENTRY_SHAPE, text.rstrip("\r\n")[:300])
        if entry["seq"] != seq or type(entry["seq"]) is not int:
            self._seq_error(entry["seq"], it)
        body, named = entry["body"], _id_of(entry["body"])
        try:
            leaf = hashlib.sha256(b"\x00" + canonical_json(body)).digest()
        except ValueError as exc:
            problem = "body cannot be canonicalised (RFC 8785)"
            raise _Failure(seq, line, problem, "audit JSON", exc, entry_id=named) from None
        if leaf.hex() != entry["leaf_hash"]:
            problem = "leaf hash mismatch: body altered"
            raise _Failure(seq, line, problem, leaf.hex(), entry["leaf_hash"], entry_id=named)
        if not _names_its_entry(body, seq):
            if "seq" not in body and "id" in body:
                raise _Failure(seq, line, "body names no integer id", "an integer id", body.get("id"))
            raise _Failure(seq, line, "body names another seq", seq, body.get("seq"))
        chain = hashlib.sha256(self.chain + leaf).digest().hex()
        if chain != entry["chain_hash"]:
            problem = "chain hash mismatch: chain forged"
            raise _Failure(seq, line, problem, chain, entry["chain_hash"], entry_id=named)
        raise AssertionError("unreachable: the fast checks and _diagnose disagree")

    def _seq_error(self, seq: Any, it: Iterator[str]) -> None:
        expected, line = self.next_seq, self.line
        if type(seq) is not int:
            raise _Failure(
                expected, line, "malformed entry line: seq is not an integer", f"seq {expected}", seq
            )
        if seq == expected - 1 and expected > self.first_seq:
            problem = "duplicate entry"
        elif seq < expected:
            problem = "out of order"
        else:
            # One line of look-ahead tells a swap (the missing seq comes next) from a deletion.
            try:
                following = json.loads(next(it, "null"))
                swapped = isinstance(following, dict) and following.get("seq") == expected
            except (ValueError, RecursionError):
                swapped = False
            missing = seq - expected
            problem = (
                "out of order"
                if swapped
                else f"gap: {missing} {'entry' if missing == 1 else 'entries'} missing"
            )
        raise _Failure(expected, line, problem, f"seq {expected}", f"seq {seq}")

    def _blank(self, it: Iterator[str]) -> None:
        if any(text.strip() for text in it):
            raise _Failure(self.next_seq, self.line, "blank line inside the export", "an entry", "")

    def _check_head(self) -> None:
        """At the end of the checkpoint's tree: its chain head, and its root if computable."""
        seq, line, cp = (self.cp.tree_size - 1 if self.cp.tree_size else None), self.line, self.cp
        named = self.last_id if seq is not None and seq >= self.first_seq else None
        if self.chain.hex() != cp.chain_head:
            problem = "chain head mismatch: checkpoint is not of this log"
            raise _Failure(seq, line, problem, self.chain.hex(), cp.chain_head, entry_id=named)
        self.chain_head_checked = True
        if self.first_seq == 0:
            root = (self.stream.root() if cp.tree_size else EMPTY_ROOT).hex()
            if root != cp.root_hash:
                problem = "root mismatch: checkpoint is not of this log"
                raise _Failure(seq, line, problem, root, cp.root_hash, entry_id=named)
            self.root_checked = True

    def finish(self) -> None:
        """End-of-export checks: the checkpoint is reached, and the count matches the header."""
        last, size, found = self.next_seq - 1, self.cp.tree_size, self.next_seq - self.first_seq
        if last < size - 1:
            problem = f"truncated: export ends at seq {last}, checkpoint covers {size}"
            raise _Failure(self.next_seq, self.line + 1, problem, f"seq {size - 1}", f"seq {last}")
        if found != self.count:
            raise _Failure(None, self.line, "entry count differs from the header", self.count, found)
        if uncovered := self._uncovered():
            self.notes.append(f"{uncovered} entries after the checkpoint are chain-checked only")

    def _uncovered(self) -> int:
        return max(0, self.next_seq - max(self.cp.tree_size, self.first_seq))

    def report(self, error: dict[str, Any] | None) -> VerificationReport:
        return VerificationReport(
            ok=error is None,
            checked=self.next_seq - self.first_seq,
            first_error=error,
            uncovered=self._uncovered(),
            root_checked=self.root_checked,
            chain_head_checked=self.chain_head_checked,
            notes=self.notes,
        )


# --- command line -------------------------------------------------------------------------------


def _hash_arg(text: str) -> bytes:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise argparse.ArgumentTypeError("expected 64 hex digits")
    return bytes.fromhex(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audit.verifier", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("export", nargs="?", help="the export file (JSON Lines)")
    parser.add_argument("--checkpoint", help="signed checkpoint JSON {body, signature}")
    parser.add_argument("--public-key", help="the platform's audit public key (PEM), your own copy")
    parser.add_argument("--prev-chain-hash", type=_hash_arg, help="chain hash before a partial export")
    parser.add_argument(
        "--bundle", help="check one entry's inclusion-proof bundle (JSON) instead of an export"
    )
    parser.add_argument(
        "--trust-bundle-key",
        action="store_true",
        help="with --bundle and no --public-key: use the key inside the bundle (self-consistency only)",
    )
    parser.add_argument("--log-key", help="the log's signed-note verifier key (for witness checks)")
    parser.add_argument(
        "--witness", action="append", default=[], help="a witness's cosignature verifier key (repeat)"
    )
    parser.add_argument("--quorum", type=int, help="cosignatures needed (default: 1)")
    parser.add_argument("--witnessed", help="with an export: a cosigned checkpoint note to hold it to")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits 2 itself on bad usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    policy = witness_policy(parser, args)
    if args.bundle is not None:
        return main_bundle(parser, args, policy)
    if args.export is None or args.checkpoint is None or args.public_key is None:
        parser.error("an export needs EXPORT, --checkpoint and --public-key (or use --bundle FILE)")
    if args.trust_bundle_key:
        parser.error("--trust-bundle-key goes with --bundle")
    try:
        with open(args.checkpoint, "rb") as f:
            checkpoint = json.load(f)
        with open(args.public_key, "rb") as f:
            public_key = load_public_key_pem(f.read())
        # surrogateescape: an invalid UTF-8 byte becomes a lone surrogate, which the checks report
        # at its exact line instead of the whole read failing.
        with open(args.export, encoding="utf-8", errors="surrogateescape") as export:
            report = verify_export(export, checkpoint, public_key, prev_chain_hash=args.prev_chain_hash)
    except (OSError, ValueError, RecursionError) as exc:  # unreadable or unparseable inputs, partial export
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_report(report)
    if report.ok and args.witnessed is not None:
        return _check_witnessed(parser, args, policy)
    return 0 if report.ok else 1


def _check_witnessed(parser: argparse.ArgumentParser, args: argparse.Namespace, policy) -> int:
    if policy is None:
        parser.error("--witnessed needs --log-key and at least one --witness")
    try:
        with open(args.witnessed, encoding="utf-8") as f:
            text = f.read()
        with open(args.export, encoding="utf-8", errors="surrogateescape") as export:
            ok, reason = check_export_witnessed(export, text, policy)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"OK: {reason}" if ok else f"FAILED: {reason}")
    return 0 if ok else 1


def _print_report(report: VerificationReport) -> None:
    err = report.first_error
    if err is None:
        print(f"OK: {report.checked} entries verified" + (", root verified" if report.root_checked else ""))
    else:
        where = f"line {err['line']}"
        if err.get("id") is not None:  # a batched entry: its line's seq is a leaf, its name an id
            where += f", leaf {err['seq']} (id {err['id']})"
        elif err["seq"] is not None:
            where += f", seq {err['seq']}"
        print(
            f"FAILED at {where}: {err['problem']}\n  expected: {err['expected']}\n  found:    {err['found']}"
        )
    for note in report.notes:
        print(f"note: {note}")


if __name__ == "__main__":
    sys.exit(main())
