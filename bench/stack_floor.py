"""The stack's floor: what the same gunicorn (2 sync workers), Flask and crypto serve with no
database, driven by the same 16 clients. Two routes:

- `GET /healthz`: Flask's own cost per call (routing, request and response objects) and
  gunicorn's (accept, parse, write, close);
- `GET /com/v4/person/<sub>`: only the crypto of a person call, through the functions the
  real endpoint calls (access-token ES256 verify, DPoP proof check incl. thumbprint and `ath`,
  JWS ES256 + JWE ECDH-ES+A256KW/A256GCM of the same person JSON), keys in memory.

So the bench can say how much of the crypto ceiling any database-backed person endpoint on this
stack could reach at best, and how much of a real call is the database and the audit log.
The WSGI app here is the benchmark's, never the product's; `consentry serve --factory
bench.stack_floor:app` serves it, configured by a JSON file named in FLOOR_CONFIG.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask, Response, request
from joserfc.jwk import ECKey

CONFIG_ENV = "FLOOR_CONFIG"


class StubKeys:
    """PlatformKeys without the database: one signing key, found by its kid."""

    def __init__(self, key: ECKey) -> None:
        self.key = key

    def signing_key(self) -> ECKey:
        return self.key

    def public_key(self, kid: str) -> ECKey | None:
        return self.key if kid == self.key.kid else None


def app() -> Flask:
    """The floor's WSGI app (a gunicorn app factory)."""
    from app.oauth.access_tokens import verify_access_token
    from app.oauth.dpop import check_dpop_proof
    from app.oauth.jwks import JwksCache
    from app.oauth.release import seal
    from core.clock import utcnow

    config = json.loads(Path(os.environ[CONFIG_ENV]).read_text())
    keys = StubKeys(ECKey.import_key(config["platform"]))
    runtime = SimpleNamespace(platform_keys=keys, client_jwks=JwksCache())
    agency_app = SimpleNamespace(client_id="floor", jwks={"keys": [config["encryption"]]}, jwks_uri=None)
    issuer, payload = config["issuer"], config["payload"]
    floor = Flask("consentry-bench-floor")

    @floor.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    @floor.get("/com/v4/person/<sub>")
    def person(sub: str) -> Response:
        now = utcnow()
        access_token = request.headers["Authorization"].partition(" ")[2]
        claims = verify_access_token(keys, access_token, issuer=issuer, audience=f"{issuer}/person", now=now)
        check_dpop_proof(
            request.headers["DPoP"],
            htm="GET",
            htu=f"{issuer}/person/{sub}",
            now=now,
            access_token=access_token,
            expected_jkt=claims["cnf"]["jkt"],
        )
        return Response(seal(runtime, agency_app, payload), 200, mimetype="application/jose")

    return floor


def write_config(
    path: Path, *, platform: ECKey, encryption: ECKey, issuer: str, payload: dict[str, Any]
) -> None:
    path.write_text(
        json.dumps(
            {
                "platform": platform.as_dict(private=True),
                "encryption": encryption.as_dict(private=False),
                "issuer": issuer,
                "payload": payload,
            }
        )
    )
