"""The citizen's pages (sign in with NRIC/FIN, password and authenticator code; sign out; the portal:
profile, access history, consents and withdrawing one) and the portal's JSON API. See docs/portal.md."""

from . import account, activation, download, receipts, recovery, refresh  # noqa: F401  (pages on the citizen blueprint)
