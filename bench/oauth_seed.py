"""The OAuth API benchmark's setup (bench/oauth_api.py): one agency app and citizens with full
profiles fetched from the simulated agencies, in a fresh database; authorization codes minted as
the consent screen issues them."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from agency_connectors.refresh import refresh_citizen
from consent.apps import register_app
from consent.consents import grant_consent
from consent.grant_models import AuthorizationRequest
from consent.grants import issue_code, open_request, pkce_challenge
from consent.models import AgencyApp, Purpose
from core.clock import utcnow
from core.uinfin import demo_uinfin
from profile_store.models import Citizen

from .oauth_settings import CODE_TTL, PURPOSE_ID, REDIRECT_URI, SCOPE, V4, V5
from .seeding import (
    build_runtime,
    close_runtime,
    declare_usual,
    full_record_indices,
    seed_citizens,
    simulators,
)


@dataclass
class Citizenry:
    """What the client side knows: the app's keys and the citizens' ids."""

    client_id: str
    signing: ECKey
    encryption: ECKey
    citizen_ids: list[str]


def seed_app_and_citizens(db_url: str, count: int) -> Citizenry:
    """One app (inline JWKS) and `count` citizens with a full profile fetched from the agencies."""
    signing = ECKey.generate_key("P-256", {"use": "sig", "alg": "ES256"}, auto_kid=True)
    encryption = ECKey.generate_key("P-256", {"use": "enc", "alg": "ECDH-ES+A256KW"}, auto_kid=True)
    # Unique per run: rate limits count per client id, and REDIS_URL may outlive the database.
    client_id = f"bench-oauth-{secrets.token_hex(4)}"
    document = {
        "client_id": client_id,
        "name": "Benchmark pre-fill app",
        "agency": "Benchmark Agency",
        "redirect_uris": [REDIRECT_URI],
        "allowed_attributes": SCOPE,
        "purposes": [
            {
                "id": PURPOSE_ID,
                "description": "To pre-fill a benchmark application form.",
                "required": SCOPE,
                "optional": [],
            }
        ],
        "jwks": {"keys": [signing.as_dict(private=False), encryption.as_dict(private=False)]},
        "profiles": [V4.profile, V5.profile],
    }
    uinfins = [demo_uinfin(n) for n in full_record_indices(count)]
    with simulators() as sims:
        fetching = build_runtime(db_url, sims.base_url)
        try:
            ids = seed_citizens(fetching, uinfins)
            with fetching.sessions() as session, session.begin():
                register_app(session, document=document, catalogue=fetching.catalogue, now=utcnow())
                for citizen_id in ids:
                    citizen = session.get(Citizen, citizen_id)
                    result = refresh_citizen(
                        session,
                        registry=fetching.connectors,
                        vault=fetching.vault,
                        catalogue=fetching.catalogue,
                        citizen=citizen,
                        now=utcnow(),
                    )
                    assert not result.failed, result.failed
                    declare_usual(session, fetching, citizen, utcnow())
        finally:
            close_runtime(fetching)
    return Citizenry(client_id=client_id, signing=signing, encryption=encryption, citizen_ids=ids)


@dataclass(frozen=True)
class Code:
    code: str
    verifier: str


# (session, app, purpose, index, now) -> the pending request and its PKCE verifier
RequestOpener = Callable[[Session, AgencyApp, Purpose, int, dt.datetime], tuple[AuthorizationRequest, str]]


def mint_codes(runtime, people: Citizenry, count: int, open_one: RequestOpener) -> list[Code]:
    """Authorization codes as the consent screen issues them: the pending request (`open_one`
    gives the index-th, with its PKCE verifier), the citizen's consent to every attribute it asks
    for, and the code (`issue_code` closes the request); one transaction per 200 codes. Citizens
    take turns."""
    codes: list[Code] = []
    cycle = itertools.cycle(people.citizen_ids)
    while len(codes) < count:
        with runtime.sessions() as session, session.begin():
            app = session.get(AgencyApp, people.client_id)
            purpose = session.get(Purpose, (people.client_id, PURPOSE_ID))
            for _ in range(min(200, count - len(codes))):
                now = utcnow()
                pending, verifier = open_one(session, app, purpose, len(codes), now)
                citizen_id = next(cycle)
                consent = grant_consent(
                    session,
                    citizen_id=citizen_id,
                    app=app,
                    purpose=purpose,
                    requested=pending.scope,
                    approved=pending.scope,
                    remember_for=None,
                    now=now,
                )
                code = issue_code(
                    session, request=pending, citizen_id=citizen_id, consent=consent, now=now, ttl=CODE_TTL
                )
                codes.append(Code(code, verifier))
    return codes


def open_v4_request(
    session: Session, app: AgencyApp, purpose: Purpose, _index: int, now: dt.datetime
) -> tuple[AuthorizationRequest, str]:
    """What GET /com/v4/authorize records for the consent screen (its checks are not measured)."""
    verifier = secrets.token_urlsafe(48)
    pending = open_request(
        session,
        profile=V4.profile,
        app=app,
        purpose=purpose,
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        state=secrets.token_urlsafe(8),
        code_challenge=pkce_challenge(verifier),
        now=now,
    )
    return pending, verifier
