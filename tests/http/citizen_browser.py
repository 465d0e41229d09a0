"""The citizen's browser for HTTP tests, as plain requests: follows Consentry's pages (sign in,
consent screen) and stops at the agency app's redirect URI."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


class Browser:
    """The citizen's browser: follows our pages, stops at the app's redirect URI."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()

    def get(self, url: str) -> requests.Response:
        return self.http.get(urljoin(self.base, url), allow_redirects=False, timeout=10)

    def submit(self, url: str, page: requests.Response, fields: list[tuple[str, str]]) -> requests.Response:
        token = CSRF.search(page.text)
        assert token, page.text[:500]
        data = [*fields, ("csrf_token", token.group(1))]
        return self.http.post(urljoin(self.base, url), data=data, allow_redirects=False, timeout=10)

    def follow_to_app(
        self, response: requests.Response, *, uinfin: str, totp: str, approve: list[str], redirect_uri: str
    ):
        """Sign in and approve whatever is on the consent screen; return the app's query params."""
        for _ in range(8):
            assert response.status_code in (200, 302, 303), response.text[:500]
            if response.status_code == 200:
                path = urlsplit(response.url).path
                if path.startswith("/citizen/sign-in"):
                    next_path = parse_qs(urlsplit(response.url).query).get("next", [""])[0]
                    fields = [("uinfin", uinfin), ("password", PASSWORD), ("code", pyotp.TOTP(totp).now())]
                    if next_path:
                        fields.append(("next", next_path))
                    response = self.submit(response.url, response, fields)
                else:
                    fields = [("decision", "approve"), ("remember", "request")]
                    fields += [("attributes", name) for name in approve]
                    response = self.submit(response.url, response, fields)
                continue
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(redirect_uri):
                return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
            response = self.get(location)
        raise AssertionError("too many redirects")
