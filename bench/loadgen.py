"""A lean HTTP/1.1 load generator for the API benchmarks: N concurrent clients in one asyncio
loop, requests serialised to bytes before the clock starts.

Why not httpx in threads: the load runs on the same two cores as the server, and 16 httpx
threads cost ~2 ms of CPU per call (GIL hand-offs, connection-pool bookkeeping), more than the
crypto ceiling allows a whole call. Every CPU second the client burns is one the server did not
get. This client costs a few tens of microseconds per call, so the figures measure the server.

It speaks only what the benchmarks need: one request per connection or keep-alive as the server
says (gunicorn's sync workers close after every response), bodies with Content-Length, answers
with Content-Length or closed by the server. Anything else raises: a bench must not guess.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Request:
    """One call, ready to write: the bytes on the wire."""

    wire: bytes


@dataclass
class Answer:
    status: int
    seconds: float  # from before connecting (when a connection is needed) to the last body byte
    body: bytes


def build(
    base_url: str, method: str, path: str, headers: dict[str, str], form: dict[str, str] | None
) -> Request:
    """The request for `method` `path` (absolute URL or a path under `base_url`) with `headers`,
    and `form` urlencoded as the body when given."""
    url = urlsplit(path if "://" in path else base_url.rstrip("/") + path)
    target = url.path + (f"?{url.query}" if url.query else "")
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if form is not None:
        lines.append("Content-Type: application/x-www-form-urlencoded")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return Request(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def run(
    base_url: str, requests: Sequence[Request], *, clients: int, deadline: float | None = None
) -> list[Answer | None]:
    """Send `requests` from `clients` concurrent connections (dynamic hand-out, in order); the
    answer to each, or None for those not sent because `deadline` (time.monotonic) passed."""
    return asyncio.run(_run(base_url, requests, clients, deadline))


async def _run(
    base_url: str, requests: Sequence[Request], clients: int, deadline: float | None
) -> list[Answer | None]:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    answers: list[Answer | None] = [None] * len(requests)
    next_index = iter(range(len(requests)))

    async def client() -> None:
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        try:
            for i in next_index:
                if deadline is not None and time.monotonic() > deadline:
                    return
                began = time.perf_counter()
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(requests[i].wire)
                status, body, keep_alive = await _answer(reader)
                answers[i] = Answer(status, time.perf_counter() - began, body)
                if not keep_alive:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return answers


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ValueError("chunked answers are not supported by the bench client")
    keep_alive = headers.get("connection", "").lower() != "close"
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif keep_alive:
        raise ValueError("an answer without Content-Length on a kept-alive connection")
    else:
        body = await reader.read()
    return status, body, keep_alive
