"""Signed agency API calls other than change notifications (the correction requests' queue).

The same HMAC-SHA256 scheme and per-agency secret as a change notification
(agency_connectors/notifications.py), over more of the request: a GET has no body, so signing the
body alone would let one signature serve any path. The signed message is

    "<X-Timestamp>." + "<METHOD> <path>[?<query>]\\n" + <raw body>

so a signature covers the method, the path with its query, and the body. Flask-free: the agency
API verifies with it, the simulated agencies sign with it.
"""

from __future__ import annotations

from .notifications import sign


def request_message(method: str, target: str, body: bytes) -> bytes:
    """What is signed besides the timestamp: the request line's method and target, and the body."""
    return f"{method.upper()} {target}\n".encode() + body


def sign_request(secret: str, timestamp: int | str, method: str, target: str, body: bytes = b"") -> str:
    """The `X-Signature` header value of a request to `target` (path and query, as sent)."""
    return sign(secret, timestamp, request_message(method, target, body))
