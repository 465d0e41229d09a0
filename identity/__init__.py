"""Local citizen accounts: NRIC/FIN, password (argon2id) and a single-use TOTP second factor.

Knows nothing of HTTP. `app/identity.py` puts a provider interface in front of it, so an external
OpenID Connect identity provider can replace local accounts without the rest of the app changing.
"""
