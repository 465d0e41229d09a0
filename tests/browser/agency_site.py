"""The agency app's web site for browser tests, on loopback and served as http://localhost:PORT:
another site than Consentry's 127.0.0.1, so no cookie is shared."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

BACK_AT_THE_APP = "<!doctype html><html lang='en'><title>Agency app</title><h1>Back at the app</h1></html>"
FRAMER = "<!doctype html><html lang='en'><title>Framer</title><iframe src='{src}' title='x'></iframe></html>"


class AgencyApp:
    """The agency app's web server on loopback: records every arrival at its redirect URI, and can
    serve a page that tries to frame another site (clickjacking)."""

    def __init__(self) -> None:
        self.arrivals: list[str] = []

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/callback":
            self.arrivals.append(request.url)
            return Response(BACK_AT_THE_APP, mimetype="text/html")(environ, start_response)
        if request.path == "/frame":
            page = FRAMER.format(src=html.escape(request.args.get("src", ""), quote=True))
            return Response(page, mimetype="text/html")(environ, start_response)
        return Response("not found", 404)(environ, start_response)


@contextmanager
def agency_site(name: str) -> Iterator[tuple[str, AgencyApp]]:
    """The site's base URL and its recorder, for as long as the block runs."""
    recorder = AgencyApp()
    server = make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}", recorder
    finally:
        server.shutdown()
        thread.join(timeout=5)
