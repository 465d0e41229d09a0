"""The consent screen every wire profile shares: sign in, see what is asked and why, decide."""
