"""What makes the Myinfo v5 (FAPI 2.0) profile itself: its issuer and URLs, the algorithms it
accepts and emits, its lifetimes, and the policies it hands to the shared OAuth modules.

Every value here is also what the discovery document advertises (app.fapi.discovery), so the
two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt

from ..extensions import runtime
from ..oauth import urls
from ..oauth.jwks import CURVE_OF, ECDH_ALGORITHMS, ES_ALGORITHMS
from ..oauth.release import Encryption
from ..oauth.token_service import ClientPolicy, DPoPPolicy

PROFILE = "myinfo-v5"

# v5 spec §3.2, §9, §11: ECDSA on P-256, P-384 or P-521 for client assertions and DPoP proofs.
SIGNING_ALGS = ES_ALGORITHMS
# Clock leeway (v5 spec §10, ours): an assertion or proof may be up to 30 s ahead of our clock;
# FAPI 2.0 asks servers to refuse 60 s and more.
LEEWAY_S = 30
ASSERTION_MAX_LIFETIME_S = 120  # SP-CA: exp - iat <= 2 minutes
REQUEST_URI_TTL = dt.timedelta(seconds=60)  # RFC 9126 expires_in; Singpass: 60
ID_TOKEN_TTL_S = 600  # Singpass sample: exp = iat + 600
# What our own sign-in (LocalAccounts: password, then an authenticator-app code) amounts to:
# two factors, Singpass's assurance level 2; RFC 8176 method names.
ACR = "urn:singpass:authentication:loa:2"
ACR_LEVELS = (ACR,)  # what `acr_values` may ask for and get (discovery's acr_values_supported)
# SP-IDT: loa:1 password only (staging), loa:2 two factors, loa:3 face as a third factor.
SINGPASS_ACR_LEVELS = tuple(f"urn:singpass:authentication:loa:{level}" for level in (1, 2, 3))
AMR = ("pwd", "otp")

# JWE to the client's `use: enc` key, the strongest it publishes (v5 spec §12.2).
CLIENT_CURVES = tuple(CURVE_OF.values())
ID_TOKEN_ENCRYPTION = Encryption(ECDH_ALGORITHMS, CLIENT_CURVES, "A256CBC-HS512")  # SP-IDT
USERINFO_ENCRYPTION = Encryption(ECDH_ALGORITHMS, CLIENT_CURVES, "A256GCM")  # v5 spec §15 Q6

# A missing DPoP header at PAR or token is `invalid_request` (SP-TOK, SP-PAR).
DPOP = DPoPPolicy(algorithms=SIGNING_ALGS, leeway_s=LEEWAY_S, missing="invalid_request")


def issuer() -> str:
    return urls.issuer(PROFILE)


def endpoint(name: str) -> str:
    """e.g. endpoint("token") -> "https://host/fapi/token"."""
    return urls.endpoint(PROFILE, name)


def jwks_uri() -> str:
    return runtime().config.public_base_url + "/.well-known/keys"


def client_policy(receiving_endpoint: str) -> ClientPolicy:
    """Client assertions at `receiving_endpoint` ("par" or "token"): `aud` our issuer as a string
    (FAPI 2.0 Final), or, unless FAPI_STRICT_AUD is set, the URL of the endpoint that received it
    (the Singpass Java demo sends that), and at PAR the token URL too (RFC 9126 §2 says PAR MUST
    accept all three); ES256/384/512; a lifetime of at most 120 s."""
    urls = {endpoint(receiving_endpoint), endpoint("token")}
    strict = runtime().config.fapi_strict_aud
    return ClientPolicy(
        audiences=(issuer(),) if strict else (issuer(), *sorted(urls)),
        algorithms=SIGNING_ALGS,
        max_lifetime_s=ASSERTION_MAX_LIFETIME_S,
        leeway_s=LEEWAY_S,
        audience_as_string=True,
    )
