"""The HTTP server: all simulated agencies on one port, each under its own path prefix and key.

    POST /{agency}/v1/person-lookup   X-API-Key, body {"uinfin": ...}   -> {"agency", "attributes"}
    GET  /healthz
    GET  /_control/stats | GET, POST /_control/{agency} | POST /_control/reset   (X-Control-Key)
    POST /_control/{agency}/corrections   answer the agency's correction requests (corrections.py)

A lookup is answered in this order, so injected faults hit every caller alike, as a sick service
would: outage (503 at once), latency, error_rate (500), API key (401), body (400), record (404 when
absent), then the malformed-answer faults on a 200. "requests" counts every lookup an agency receives,
"errors" the 5xx among them.

Standard library only (ThreadingHTTPServer: one thread per connection, HTTP/1.1 keep-alive). Nothing
about a request is logged: the body holds a national id.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.uinfin import is_valid_uinfin

from .corrections import answer_corrections
from .faults import (
    DEEP_JSON,
    HANG_SECONDS,
    HTML_PAGE,
    as_array,
    garbage_bytes,
    truncated,
    with_unknown_attribute,
    wrong_types,
)
from .records import AGENCIES, record_for
from .state import SimulatorState, same_secret

LOOKUP_PATH = "/v1/person-lookup"
CORRECTIONS = "/corrections"  # POST /_control/{agency}/corrections: answer its correction requests
MAX_BODY = 64 * 1024
_AGENCY_SET = frozenset(AGENCIES)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def parse_uinfin(body: bytes) -> str:
    """The id in a lookup body; raises ValueError with a message that never echoes the input."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("body must be JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("uinfin"), str):
        raise ValueError("body must be an object with a string 'uinfin'")
    if not is_valid_uinfin(payload["uinfin"]):
        raise ValueError("'uinfin' is not a valid NRIC/FIN")
    return payload["uinfin"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ConsentryAgencySimulator/1"
    sys_version = ""
    disable_nagle_algorithm = True  # small answers must not wait for the client's delayed ACK
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    server: SimulatorHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: request lines and errors are not logged at all."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        agency = path[1 : -len(LOOKUP_PATH)] if path.endswith(LOOKUP_PATH) else ""
        if path == "/healthz":
            if self._only(method, "GET"):
                self._send(200, {"status": "ok"})
        elif path.startswith("/_control/"):
            self._control(method, path[len("/_control/") :], body)
        elif agency in _AGENCY_SET:
            if self._only(method, "POST"):
                self._lookup(agency, body)
        else:
            self._send(404, {"error": "unknown_endpoint"})

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering (and closing) when it cannot be read safely."""
        if self.headers.get("Transfer-Encoding"):
            self._send(
                411, {"error": "invalid_request", "error_description": "send a Content-Length"}, close=True
            )
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._send(413, {"error": "invalid_request", "error_description": "body too large"}, close=True)
            return None
        return self.rfile.read(length) if length else b""

    def _only(self, method: str, allowed: str) -> bool:
        if method == allowed:
            return True
        self._send(405, {"error": "method_not_allowed"}, headers={"Allow": allowed})
        return False

    def _send(
        self,
        status: int,
        payload: Any,
        *,
        close: bool = False,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer with a JSON body (or `payload` bytes, sent as they are), in one write: separate
        writes for head and body cost a second syscall and thread switch on every request."""
        body = payload if isinstance(payload, bytes) else _json(payload)
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Type: {content_type}"]
        lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server stops; True (and the connection is to be dropped
        without an answer) if it did."""
        if self.server.state.stopping.wait(seconds):
            self.close_connection = True
            return True
        return False

    def _lookup(self, agency: str, body: bytes) -> None:
        state = self.server.state
        state.count_request(agency)
        faults = state.faults(agency)  # one snapshot for the whole request
        if faults.outage:
            state.count_error(agency)
            self._send(503, {"error": "temporarily_unavailable"})
            return
        if faults.latency_ms and self._pause(faults.latency_ms / 1000):
            return
        if faults.error_rate and state.roll() < faults.error_rate:
            state.count_error(agency)
            self._send(500, {"error": "server_error"})
            return
        if not same_secret(self.headers.get("X-API-Key", ""), state.api_keys[agency]):
            self._send(401, {"error": "invalid_api_key"})
            return
        try:
            uinfin = parse_uinfin(body)
        except ValueError as exc:
            self._send(400, {"error": "invalid_request", "error_description": str(exc)})
            return
        record = record_for(agency, uinfin, state.config.seed)
        if record is None:
            self._send(404, {"error": "not_found"})
            return
        record.update(state.corrected_items(agency, uinfin))  # values corrected on request
        self._answer(agency, record, faults.fault)

    def _answer(self, agency: str, attributes: dict[str, Any], fault: str | None) -> None:
        if fault == "hang" and self._pause(HANG_SECONDS):
            return
        if fault == "wrong_types":
            attributes = wrong_types(attributes)
        elif fault == "unknown_attribute":
            attributes = with_unknown_attribute(attributes)
        body = _json({"agency": agency, "attributes": attributes})
        if fault == "html_page":
            self._send(200, HTML_PAGE, content_type="text/html; charset=utf-8")
            return
        garbled = {
            "truncated_json": truncated,
            "garbage_bytes": garbage_bytes,
            "json_array": as_array,
            "deep_json": lambda _body: DEEP_JSON,
        }.get(fault or "")
        self._send(200, garbled(body) if garbled else body)

    def _control(self, method: str, name: str, body: bytes) -> None:
        state = self.server.state
        if not same_secret(self.headers.get("X-Control-Key", ""), state.control_key):
            self._send(401, {"error": "invalid_control_key"})
        elif name == "stats":
            if self._only(method, "GET"):
                self._send(200, state.stats())
        elif name == "reset":
            if self._only(method, "POST"):
                state.reset()
                self._send(200, {"status": "reset"})
        elif name.endswith(CORRECTIONS) and name[: -len(CORRECTIONS)] in _AGENCY_SET:
            if self._only(method, "POST"):
                self._answer_corrections(name[: -len(CORRECTIONS)], body)
        elif name not in _AGENCY_SET:
            self._send(404, {"error": "unknown_endpoint"})
        elif method == "GET":
            self._send(200, {"agency": name, "faults": state.faults(name).as_dict()})
        elif self._only(method, "POST"):
            try:
                faults = state.update(name, json.loads(body or b"{}"))
            except ValueError as exc:  # also bad JSON: JSONDecodeError is a ValueError
                self._send(400, {"error": "invalid_request", "error_description": str(exc)})
                return
            self._send(200, {"agency": name, "faults": faults.as_dict()})

    def _answer_corrections(self, agency: str, body: bytes) -> None:
        """Fetch and answer the agency's open correction requests (simulators/corrections.py)."""
        try:
            told = json.loads(body or b"{}")
            url, secret = told["platform_url"], told["secret"]
            if (
                not isinstance(url, str)
                or not url.startswith(("http://", "https://"))
                or not isinstance(secret, str)
            ):
                raise ValueError("platform_url (http or https) and secret are required")
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": "invalid_request", "error_description": "send platform_url and secret"})
            return
        try:
            counts = answer_corrections(self.server.state, agency, platform_url=url, secret=secret)
        except ValueError as exc:
            self._send(502, {"error": "platform_error", "error_description": str(exc)})
            return
        self._send(200, counts)


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SimulatorState) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on a machine without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Unblock every handler thread still reading from, or writing to, a client."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-answer is routine; anything else gets one line, never a request.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            print(f"agency simulator: handler failed: {type(exc).__name__}", file=sys.stderr)
