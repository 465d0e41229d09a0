"""The load every audit-scale setting puts on the log (bench/audit_append.py's locked append, the
prototype in bench/audit_integrator.py, the product's batched append in bench/audit_batched.py):
the release each writer appends (disclosure_event, with PERSON_SCOPE's 17 attributes) and the
most releases one setting makes (MAX_PER_SETTING).
"""

from __future__ import annotations

import hashlib

from audit.log import Event

MAX_PER_SETTING = 200_000
# The MyInfo demo app's 17 attributes: what one person call releases (bench/oauth_api.py SCOPE).
PERSON_SCOPE = (
    *("uinfin", "name", "sex", "race", "nationality", "dob", "email", "mobileno", "regadd"),
    *("housingtype", "hdbtype", "marital", "edulevel", "noa-basic", "ownerprivate"),
    *("cpfcontributions", "cpfbalances"),
)


def disclosure_event(n: int) -> Event:
    """A person call's disclosure as app/oauth/release.py builds it: 17 attributes, the citizen as
    a keyed digest, and the details a release records."""
    return Event(
        kind="disclosure",
        citizen_ref=hashlib.sha256(b"citizen-%d" % (n % 1_000_003)).hexdigest(),
        app_id=f"bench-app-{n % 300}",
        purpose="pre-fill",
        outcome="released",
        attributes=PERSON_SCOPE,
        details={
            "consent_id": f"c-{n % 500_009:08d}",
            "token_jti": hashlib.sha256(b"jti-%d" % n).hexdigest()[:32],
            "profile": "v4",
            "asked": sorted(PERSON_SCOPE),
        },
    )
