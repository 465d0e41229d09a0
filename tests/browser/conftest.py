"""Real Chromium (Debian's /usr/bin/chromium, never a downloaded one) against the real app on a
loopback werkzeug server. One browser per session (per xdist worker).

The live app commits for real into the worker's test database, so tests here make their own
citizens with fresh national ids and never share the function-scoped `db_session`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

from agency_connectors.refresh import refresh_citizen
from core.clock import utcnow
from profile_store.fields import declare
from tests.factories import fresh_uinfin, make_citizen

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
# Reports CSP violations from every page to the test, across navigations.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__consentryCsp(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


LONGEST_FIRST = ("test_screenshots.py", "test_operator_browser.py")


def pytest_collection_modifyitems(config, items) -> None:
    """Mark and, without Chromium, skip the browser tests; run them last so a worker's one Chromium
    starts after the fast tests.

    On PostgreSQL only the journeys marked `both_databases` run. A journey checks what a person
    sees and does on the pages; what the pages do to the database is the same code the HTTP tests
    drive on both databases, and the full set of journeys (minutes of Chromium) runs on SQLite."""
    here = Path(__file__).parent
    browser_items = [item for item in items if here in Path(item.path).parents]
    on_postgres = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
        if not CHROMIUM.exists():
            item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"))
        elif on_postgres and item.get_closest_marker("both_databases") is None:
            reason = "a browser journey: runs on SQLite (not marked both_databases)"
            item.add_marker(pytest.mark.skip(reason=reason))
    chosen = set(browser_items)
    # The longest journeys first within the browser block: started last, the screenshot journeys
    # (about 50 s each) were the run's tail while the other workers sat idle.
    browser_items.sort(key=lambda item: Path(item.path).name not in LONGEST_FIRST)
    items[:] = [item for item in items if item not in chosen] + browser_items


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """For anyone using pytest-playwright's fixtures: the same Chromium and flags."""
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass(frozen=True)
class Seeded:
    id: str
    uinfin: str


@pytest.fixture(scope="session")
def seeded_citizen(live_app) -> Seeded:
    """A citizen fetched from every agency, with one declared value, committed for real."""
    runtime = live_app.extensions["consentry"]

    def seed() -> Seeded:
        now = utcnow()
        with runtime.sessions() as session:
            uinfin = fresh_uinfin()
            citizen = make_citizen(session, runtime.vault, uinfin=uinfin, now=now)
            result = refresh_citizen(
                session,
                registry=runtime.connectors,
                vault=runtime.vault,
                catalogue=runtime.catalogue,
                citizen=citizen,
                now=now,
            )
            assert result.failed == {}
            declare(
                session,
                vault=runtime.vault,
                catalogue=runtime.catalogue,
                citizen=citizen,
                attribute="email",
                value={"value": "tan.ah.kow@example.com"},
                now=now,
            )
            session.commit()
            return Seeded(citizen.id, uinfin)

    return seed()


@dataclass
class Tab:
    """A page plus everything that went wrong on it: console errors and warnings, uncaught
    exceptions, CSP violations and failed sub-resources."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)

    refused_pages: set[str] = field(default_factory=set)

    def on_response(self, response: Response) -> None:
        if response.status < 400:
            return
        if response.request.resource_type == "document":
            self.refused_pages.add(response.url)  # a 400/404 page the test provoked on purpose
        else:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def on_request_failed(self, request: Request) -> None:
        # A navigation cancels what the page it leaves was still loading (often the favicon).
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {request.url} {request.failure}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        if (
            message.text.startswith("Failed to load resource")
            and (message.location.get("url") or "").split("#")[0] in self.refused_pages  # a form's #anchor
        ):
            return
        self.problems.append(f"console {message.type}: {message.text} at {message.location.get('url')}")

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def axe_violations(self) -> list[str]:
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"
        )
        return list(result)


def _open_tab(browser: Browser, base_url: str, **context_options) -> Iterator[Tab]:
    context = browser.new_context(**context_options)
    page = context.new_page()
    tab = Tab(page, base_url)
    page.expose_function("__consentryCsp", lambda text: tab.problems.append(f"CSP: {text}"))
    page.add_init_script(CSP_LISTENER)
    page.on("console", tab.on_console)
    page.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    page.on("requestfailed", tab.on_request_failed)
    page.on("response", tab.on_response)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def tab(chromium, live_server) -> Iterator[Tab]:
    yield from _open_tab(chromium, live_server, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone_tab(chromium, live_server) -> Iterator[Tab]:
    yield from _open_tab(
        chromium,
        live_server,
        viewport={"width": 375, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )


@pytest.fixture
def no_js_tab(chromium, live_server) -> Iterator[Tab]:
    yield from _open_tab(
        chromium, live_server, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
