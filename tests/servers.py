"""Serving an app on a loopback port for tests that need real HTTP (browsers, integrator clients,
several app servers at once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serving(build: Callable[[str], Flask]) -> Iterator[tuple[str, Flask]]:
    """Start a threaded werkzeug server on a free port, build the app knowing its own URL
    (`build(url)`), and stop both afterwards."""
    holder: dict[str, Flask] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = build(url)
    thread = threading.Thread(target=server.serve_forever, name=f"server-{server.server_port}", daemon=True)
    thread.start()
    try:
        yield url, holder["app"]
    finally:
        server.shutdown()
        thread.join(timeout=5)
        if "consentry" in holder["app"].extensions:
            holder["app"].extensions["consentry"].close()
