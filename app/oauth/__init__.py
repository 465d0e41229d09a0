"""The OAuth 2.0 authorization server speaking MyInfo v4: one module per specification (DPoP,
private_key_jwt client authentication, client JWKS, replay cache), wired together by server.py."""
