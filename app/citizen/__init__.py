"""The citizen's pages: sign in with NRIC/FIN, password and authenticator code, sign out, and a
signed-in landing page (the portal proper comes later)."""
