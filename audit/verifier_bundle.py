"""`python -m audit.verifier --bundle`: one entry's proof bundle (audit/proof_check.py), and with
witness keys its cosigned checkpoint (audit/witness_verify.py). Standard library and
`cryptography` only, like the rest of the offline verifier."""

from __future__ import annotations

import argparse
import json
import sys

from .checkpoint_signing import load_public_key_pem
from .proof_check import Verdict, check_bundle_json
from .witness_verify import WitnessPolicy, check_bundle_witnessed


def witness_policy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> WitnessPolicy | None:
    """The witness policy the options give (None without --witness)."""
    if not args.witness:
        if args.log_key or args.quorum is not None:
            parser.error("--log-key and --quorum go with --witness")
        return None
    if not args.log_key:
        parser.error("--witness needs --log-key (the log's note verifier key)")
    quorum = 1 if args.quorum is None else args.quorum
    if not 1 <= quorum <= len(args.witness):
        parser.error("--quorum must be between 1 and the number of --witness keys")
    return WitnessPolicy(args.log_key, tuple(args.witness), quorum)


def main_bundle(
    parser: argparse.ArgumentParser, args: argparse.Namespace, policy: WitnessPolicy | None
) -> int:
    if args.witnessed is not None:
        parser.error("--witnessed goes with an export; a bundle carries its own cosigned note")
    if args.export is not None or args.checkpoint is not None or args.prev_chain_hash is not None:
        parser.error("--bundle checks one proof bundle: give no export, --checkpoint or --prev-chain-hash")
    if (args.public_key is None) == (not args.trust_bundle_key):
        parser.error(
            "--bundle needs either --public-key KEY.pem (your own copy of the platform's audit key) "
            "or --trust-bundle-key (use the key inside the bundle)"
        )
    try:
        trusted = None
        if args.public_key is not None:
            with open(args.public_key, "rb") as f:
                trusted = load_public_key_pem(f.read())
        with open(args.bundle, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdict = check_bundle_json(data, trusted_key=trusted)
    _print_verdict(verdict)
    if not verdict.ok or policy is None:
        return 0 if verdict.ok else 1
    ok, reason = check_bundle_witnessed(json.loads(data), policy)
    print(f"OK: {reason}" if ok else f"FAILED: {reason}")
    return 0 if ok else 1


def _print_verdict(verdict: Verdict) -> None:
    print(f"OK: {verdict.reason}" if verdict.ok else f"FAILED: {verdict.reason}")
    if verdict.key_id is None:
        return
    if verdict.key_from_bundle:
        print(
            f"note: checked with the key inside the bundle (key id {verdict.key_id}), as --trust-bundle-key "
            "asked: this shows only that the bundle is consistent; compare that key id with the audit key "
            "the platform publishes, or pass your own copy with --public-key"
        )
    else:
        print(f"note: checked with your public key (key id {verdict.key_id})")
