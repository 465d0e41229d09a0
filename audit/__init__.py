"""Tamper-evident, append-only disclosure audit log."""
