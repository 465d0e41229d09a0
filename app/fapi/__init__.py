"""Myinfo v5 on Singpass FAPI 2.0 (../shared/specs/myinfo-v5-fapi.md): the second wire profile,
beside MyInfo v4, over the same agency apps, sign-in, consent screen, consents, keys, DPoP,
release and audit (app.oauth, app.consent_screen, consent).

    profile.py    issuer, endpoint URLs, algorithms, lifetimes and policies of the profile
    scopes.py     the v5 scope language: `openid`, catalog attributes, dotted sub-attributes
    par.py        checking a pushed authorization request's parameters (RFC 9126, FAPI 2.0)
    tokens.py     the ID token and the userinfo envelope
    discovery.py  the metadata document (OpenID Connect Discovery, RFC 8414)
    views.py      the blueprint: discovery, JWKS, PAR, authorization, token, userinfo
"""
