"""The citizen's pages (sign in with NRIC/FIN, password and authenticator code; sign out; the portal:
profile, access history, consents and withdrawing one) and the portal's JSON API. See docs/portal.md."""

# Modules that add their pages to the citizen blueprint (app/citizen/views.py `bp`).
from . import (  # noqa: F401
    account,
    activation,
    corrections,
    declarations,
    download,
    lifecycle,
    proofs,
    receipts,
    recovery,
    refresh,
    stepup,
)
