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
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .checkpoint_signing import CheckpointBody, key_id, load_public_key_pem, verify_checkpoint
from .merkle import ZERO_HASH
from .verifier_bundle import main_bundle, witness_policy
from .verifier_walk import Failure, Run
from .witness_verify import check_export_witnessed

FORMAT = "consentry-audit-export/1"
_HEADER_SHAPE = f'{{"format": "{FORMAT}", "log_id": str, "first_seq": int, "count": int}}'


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
    run: Run | None = None
    try:
        cp = _checked_checkpoint(checkpoint, public_key)
        it = iter(lines)
        first_seq, count = _parse_header(next(it, ""), cp)
        run = Run(cp, first_seq, count, _start_chain(first_seq, prev_chain_hash))
        run.check_start()
        run.entries(it)
        run.finish()
    except Failure as failure:
        return _report(run, failure.error) if run else VerificationReport(False, 0, failure.error)
    return _report(run, None)


def _report(run: Run, error: dict[str, Any] | None) -> VerificationReport:
    return VerificationReport(
        ok=error is None,
        checked=run.next_seq - run.first_seq,
        first_error=error,
        uncovered=run.uncovered(),
        root_checked=run.root_checked,
        chain_head_checked=run.chain_head_checked,
        notes=run.notes,
    )


def _checked_checkpoint(checkpoint: Any, public_key: Ed25519PublicKey) -> CheckpointBody:
    body = checkpoint.get("body") if isinstance(checkpoint, dict) else None
    expected = key_id(public_key)
    if not isinstance(body, dict) or body.get("key_id") != expected:
        claimed = body.get("key_id") if isinstance(body, dict) else None
        raise Failure(
            None, 0, "forged or swapped checkpoint: key_id is not the public key's", expected, claimed
        )
    if not verify_checkpoint(public_key, checkpoint):
        signature = str(checkpoint.get("signature"))[:100]
        raise Failure(
            None, 0, "forged or swapped checkpoint: signature does not verify", "valid Ed25519", signature
        )
    try:
        return CheckpointBody.parse(body)
    except ValueError as exc:
        raise Failure(None, 0, "checkpoint body malformed", "the checkpoint fields", exc) from None


def _parse_header(line: str, cp: CheckpointBody) -> tuple[int, int]:
    if not line.strip():
        raise Failure(None, 1, "missing header: the export is empty", _HEADER_SHAPE, "")
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
        raise Failure(None, 1, "malformed header", _HEADER_SHAPE, line.rstrip("\r\n")[:300])
    if header["log_id"] != cp.log_id:
        raise Failure(None, 1, "checkpoint is for another log", header["log_id"], cp.log_id)
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
