"""The citizen's pages (sign in with NRIC/FIN, password and authenticator code; sign out; the portal:
profile, access history, consents and withdrawing one) and the portal's JSON API. See docs/portal.md."""

from . import receipts  # noqa: F401  (the receipt pages, on the citizen blueprint)
