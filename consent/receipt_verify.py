"""Verify a Consentry consent receipt with no server, no database and no app: the standard library
and `cryptography` only.

    python -m consent.receipt_verify RECEIPT.json --jwks https://consentry.example/.well-known/receipt-keys
    python -m consent.receipt_verify RECEIPT.json --jwks-file receipt-keys.json

RECEIPT.json is what the citizen portal downloads and the agency-app endpoint returns,
`{"receipt": {...}, "jws": "<compact JWS>"}`, or the compact JWS alone. The JWS must be an Ed25519
signature (RFC 7515, alg "Ed25519") by a key in the receipt JWKS; the readable `receipt` must be
exactly what was signed. Exit 0 with a one-line summary, or non-zero with the reason:

    1  tampered: the signature does not match, or a readable field differs from the signed one (named)
    2  usage error
    3  malformed or truncated file
    4  unknown key: the kid is not in the JWKS (a foreign or withdrawn key), or not a receipt key
    5  the receipt file or the JWKS could not be read
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

OK, TAMPERED, USAGE, MALFORMED, UNKNOWN_KEY, UNREADABLE = 0, 1, 2, 3, 4, 5
ALG = "Ed25519"
URN_PREFIX = "urn:consentry:receipt:"
SCHEMA_PREFIX = "consentry-receipt/1"
SIGNATURE_BYTES = 64
MAX_BYTES = 1024 * 1024
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_COMPACT = re.compile(r"^[A-Za-z0-9_.-]+$")


class Invalid(Exception):
    """Why a receipt does not verify, with the exit code that says so."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def verify(text: str, jwks: Any) -> tuple[dict[str, Any], str]:
    """The signed receipt and the kid that signed it. Raises Invalid."""
    readable, compact = _document(text)
    header_b64, payload_b64, signature = _split(compact)
    header = _json_segment(header_b64, "header")
    if header.get("alg") != ALG:
        raise Invalid(MALFORMED, f"malformed: the JWS alg is {header.get('alg')!r}, not {ALG!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Invalid(MALFORMED, "malformed: the JWS header names no key (kid)")
    key = _key(jwks, kid)
    try:
        key.verify(signature, f"{header_b64}.{payload_b64}".encode("ascii"))
    except InvalidSignature:
        raise Invalid(
            TAMPERED,
            f"tampered: the signature by {kid} does not match the signed content (changed after signing)",
        ) from None
    receipt = _json_segment(payload_b64, "payload")
    if not str(receipt.get("record_id", "")).startswith(URN_PREFIX):
        raise Invalid(MALFORMED, "malformed: the signed content is not a Consentry receipt (record_id)")
    if not str(receipt.get("schema_version", "")).startswith(SCHEMA_PREFIX):
        raise Invalid(MALFORMED, f"malformed: unknown schema_version {receipt.get('schema_version')!r}")
    if readable is not None and (where := first_difference(readable, receipt)) is not None:
        raise Invalid(TAMPERED, f"tampered: field {where} differs from what was signed")
    return receipt, kid


def first_difference(given: Any, signed: Any, path: str = "receipt") -> str | None:
    """The path of the first place `given` differs from `signed` (None if equal)."""
    if isinstance(given, dict) and isinstance(signed, dict):
        for name in sorted(set(given) | set(signed)):
            if name not in given or name not in signed:
                return f"{path}.{name}"
            if (where := first_difference(given[name], signed[name], f"{path}.{name}")) is not None:
                return where
        return None
    if isinstance(given, list) and isinstance(signed, list):
        if len(given) != len(signed):
            return path
        for index, (a, b) in enumerate(zip(given, signed, strict=True)):
            if (where := first_difference(a, b, f"{path}[{index}]")) is not None:
                return where
        return None
    same = type(given) is type(signed) and given == signed
    return None if same else path


def _document(text: str) -> tuple[dict[str, Any] | None, str]:
    stripped = text.strip()
    if not stripped:
        raise Invalid(MALFORMED, "truncated: the file is empty")
    if not stripped.startswith("{"):
        if not (stripped.startswith("eyJ") and _COMPACT.match(stripped)):  # eyJ: base64url of '{"'
            raise Invalid(MALFORMED, 'malformed: neither {"receipt": ..., "jws": ...} nor a compact JWS')
        return None, stripped
    try:
        document = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped) - 1 or exc.msg.startswith("Unterminated"):
            raise Invalid(MALFORMED, "truncated: the JSON ends before the receipt does") from None
        raise Invalid(MALFORMED, f"malformed: not JSON ({exc.msg}, character {exc.pos})") from None
    if not isinstance(document, dict) or not isinstance(document.get("jws"), str):
        raise Invalid(MALFORMED, 'malformed: expected {"receipt": {...}, "jws": "..."}')
    readable = document.get("receipt")
    if readable is not None and not isinstance(readable, dict):
        raise Invalid(MALFORMED, "malformed: receipt must be a JSON object")
    return readable, document["jws"].strip()


def _split(compact: str) -> tuple[str, str, bytes]:
    parts = compact.split(".")
    if len(parts) < 3 or not all(parts[:2]):
        raise Invalid(MALFORMED, f"truncated: the JWS has {len(parts)} of its 3 parts")
    if len(parts) > 3:
        raise Invalid(MALFORMED, "malformed: a compact JWS has 3 parts, not an encrypted JWE or other")
    signature = _b64(parts[2], "signature")
    if len(signature) < SIGNATURE_BYTES:
        raise Invalid(
            MALFORMED, f"truncated: the signature has {len(signature)} of its {SIGNATURE_BYTES} bytes"
        )
    if len(signature) > SIGNATURE_BYTES:
        raise Invalid(MALFORMED, f"malformed: an Ed25519 signature has {SIGNATURE_BYTES} bytes")
    return parts[0], parts[1], signature


def _b64(segment: str, what: str) -> bytes:
    if not _B64URL.match(segment) or len(segment) % 4 == 1:
        raise Invalid(MALFORMED, f"malformed: the JWS {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise Invalid(MALFORMED, f"malformed: the JWS {what} is not base64url") from None


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(segment, what))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid(MALFORMED, f"malformed: the JWS {what} is not JSON") from None
    if not isinstance(value, dict):
        raise Invalid(MALFORMED, f"malformed: the JWS {what} is not a JSON object")
    return value


def _key(jwks: Any, kid: str) -> Ed25519PublicKey:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise Invalid(UNREADABLE, 'the JWKS is not {"keys": [...]}')
    match = next((k for k in keys if isinstance(k, dict) and k.get("kid") == kid), None)
    if match is None:
        raise Invalid(
            UNKNOWN_KEY, f"unknown key: {kid} is not in the receipt JWKS (a foreign or withdrawn key)"
        )
    if match.get("kty") != "OKP" or match.get("crv") != "Ed25519" or "d" in match:
        raise Invalid(UNKNOWN_KEY, f"unknown key: {kid} is not an Ed25519 receipt key")
    try:
        return Ed25519PublicKey.from_public_bytes(_b64(str(match.get("x", "")), "key"))
    except (Invalid, ValueError):
        raise Invalid(UNKNOWN_KEY, f"unknown key: {kid} in the JWKS is not a usable Ed25519 key") from None


def load_jwks(*, url: str | None, path: str | None) -> Any:
    """The JWKS from `url` (http or https) or a file. Raises Invalid(UNREADABLE)."""
    try:
        if path is not None:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        if urlsplit(url or "").scheme not in ("http", "https"):
            raise Invalid(UNREADABLE, "--jwks must be an http(s) URL")
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (scheme checked above)
            return json.loads(response.read(MAX_BYTES))
    except (OSError, ValueError) as exc:
        raise Invalid(UNREADABLE, f"could not read the JWKS: {exc}") from None


def summary(receipt: dict[str, Any], kid: str) -> str:
    event, controller = receipt.get("event") or {}, receipt.get("pii_controller") or {}
    return (
        f"valid: {receipt['record_id']}: {event.get('type')} at {event.get('time')}, "
        f"{controller.get('app_name')} ({controller.get('name')}); signed by {kid}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m consent.receipt_verify", description=__doc__.split("\n")[0]
    )
    parser.add_argument("file", help="the receipt (JSON download, or the compact JWS alone)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--jwks", metavar="URL", help="the receipt keys, e.g. https://HOST/.well-known/receipt-keys"
    )
    source.add_argument("--jwks-file", metavar="FILE", help="the receipt keys, saved earlier")
    args = parser.parse_args(argv)
    try:
        try:
            raw = Path(args.file).read_bytes()[: MAX_BYTES + 1]
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(UNREADABLE, f"could not read {args.file}: {exc}") from None
        if len(raw) > MAX_BYTES:
            raise Invalid(MALFORMED, "malformed: the file is larger than any receipt")
        receipt, kid = verify(text, load_jwks(url=args.jwks, path=args.jwks_file))
    except Invalid as exc:
        print(f"{args.file}: {exc.reason}", file=sys.stderr)
        return exc.code
    print(summary(receipt, kid))
    return OK


if __name__ == "__main__":
    sys.exit(main())
