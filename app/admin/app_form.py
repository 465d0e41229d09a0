"""The registration form's work between the post and consent.apps: the form's values as a
registration document, the app's `jwks_uri` fetched and checked live, and every problem (the
form's, the fetch's and consent.apps') placed next to the field it is about.

The document is the one `consentry apps register` takes: allowed attributes are every item the
purposes ask for; the keys are the pasted JWKS or the `jwks_uri`, never both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.oauth.jwks import JwksError, check_jwks_uri, fetch_json
from consent.client_keys import jwks_problems
from profile_store.catalogue import Catalogue

from .display import problems as flatten

LABELS = {
    "client_id": "Client id",
    "name": "Name",
    "agency": "Agency",
    "redirect_uris": "Return addresses",
    "keys": "Public keys",
    "jwks": "Key set (JWKS)",
    "jwks_uri": "Key set address (jwks_uri)",
    "profiles": "Protocols",
    "webhook_url": "Webhook address",
}
PURPOSE_LABELS = {
    "id": "short name",
    "description": "description",
    "required": "required items",
    "optional": "optional items",
}
ONE_KEY_SOURCE = "give exactly one of jwks or jwks_uri"  # consent.apps, when the form's key was unusable
NAMED_PURPOSE = re.compile(r"^purpose (\S+) ")
PURPOSE_PART = re.compile(r"^purpose-(\d+)(?:-(id|description|required|optional))?$")


@dataclass
class Problems:
    """Messages by form field; `targets` says which input each field's messages link to."""

    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        if message not in self.by_field.setdefault(name, []):
            self.by_field[name].append(message)

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def summary(self) -> dict[str, list[str]]:
        """The messages as the error summary shows them: each starts with what it is about."""
        return {
            name: [f"{label_of(name)}: {m}" for m in messages] for name, messages in self.by_field.items()
        }

    def targets(self) -> dict[str, str]:
        return {name: _input_of(name) for name in self.by_field}


def label_of(name: str) -> str:
    if match := PURPOSE_PART.match(name):
        part = PURPOSE_LABELS.get(match[2] or "", "")
        return f"Purpose {int(match[1]) + 1}{f' {part}' if part else ''}"
    return LABELS.get(name, f"The form's field {name[:40]!r}")  # a forged post's field


def _input_of(name: str) -> str:
    """The id of the field's first input: checkboxes and radios take their group's name; a field
    the form does not have (a forged post) points at the form's first input."""
    if re.fullmatch(r"purpose-\d+", name):
        return f"{name}-id"
    return name if name in LABELS or PURPOSE_PART.match(name) else "name"


def document_from(form: Mapping[str, Any], catalogue: Catalogue, found: Problems) -> dict[str, Any]:
    """The registration document the form describes; what cannot go into it is added to `found`."""
    purposes = [
        {
            "id": p["id"].strip(),
            "description": p["description"].strip(),
            "required": list(dict.fromkeys(p["required"])),
            "optional": list(dict.fromkeys(p["optional"])),
        }
        for p in form["purposes"]
    ]
    for n, purpose in enumerate(purposes):
        if both := [name for name in purpose["required"] if name in purpose["optional"]]:
            labels = ", ".join(catalogue[name].label if name in catalogue else name for name in both)
            found.add(f"purpose-{n}-optional", f"an item is required or optional, not both: {labels}")
    document: dict[str, Any] = {
        "client_id": form["client_id"].strip(),
        "name": form["name"].strip(),
        "agency": form["agency"].strip(),
        "redirect_uris": [line.strip() for line in form["redirect_uris"].splitlines() if line.strip()],
        "allowed_attributes": sorted({name for p in purposes for name in p["required"] + p["optional"]}),
        "purposes": purposes,
        "profiles": form["profiles"],
    }
    if form["keys"] == "jwks_uri":
        uri = form["jwks_uri"].strip()
        document["jwks_uri"] = uri
        if not uri:
            found.add("jwks_uri", "enter the address the app publishes its keys at")
    else:
        document["jwks"] = _pasted_jwks(form["jwks"], found)
    return document


def _pasted_jwks(text: str, found: Problems) -> dict[str, Any] | None:
    if not text.strip():
        found.add("jwks", "paste the app's public key set (JWKS)")
        return None
    try:
        jwks = json.loads(text)
    except (ValueError, RecursionError):
        found.add("jwks", 'is not JSON: paste a key set like {"keys": [...]}')
        return None
    return jwks if isinstance(jwks, dict) else {"keys": None}


def live_key_problems(uri: str, profiles: list[str]) -> list[str]:
    """Fetch the app's `jwks_uri` now (app.oauth.jwks: 3 s timeout, no redirects, at most 64 KiB)
    and say what keeps it from serving `profiles`: unreachable, not a key set, or without the
    signing and encryption keys each profile needs."""
    try:
        check_jwks_uri(uri)
        document = fetch_json(None, uri)
    except JwksError as exc:
        return [f"{exc.message} (checked just now)"]
    return [f"{problem} (fetched just now)" for problem in jwks_problems(document, profiles)]


def place(errors: Mapping[str, Any], document: dict[str, Any], found: Problems) -> None:
    """consent.apps' problems (by document field) next to the form's fields."""
    for key, value in errors.items():
        if key == "purposes":
            _place_purposes(value, document, found)
        elif key == "allowed_attributes":
            for message in flatten(value):
                found.add("purpose-0-required", message)
        elif key == "document":
            for message in flatten(value):
                found.add("client_id", message)
        else:
            for message in flatten(value):
                # The form sends one key source; a pasted set it could not read is already named.
                if message == ONE_KEY_SOURCE and ("jwks" in found.by_field or "jwks_uri" in found.by_field):
                    continue
                found.add(key, message)


def _place_purposes(errors: Any, document: dict[str, Any], found: Problems) -> None:
    if isinstance(errors, Mapping):  # marshmallow's {index: {field: [...]}} or {"_schema": [...]}
        for index, fields_ in errors.items():
            if isinstance(index, int) and isinstance(fields_, Mapping):
                for name, messages in fields_.items():
                    for message in flatten(messages):
                        found.add(f"purpose-{index}-{name}", message)
            else:
                for message in flatten(fields_):
                    found.add("purpose-0", message)
        return
    ids = [p["id"] for p in document.get("purposes", [])]
    for message in flatten(errors):
        match = NAMED_PURPOSE.match(message)
        n = ids.index(match[1]) if match and match[1] in ids else 0
        found.add(f"purpose-{n}", message)
