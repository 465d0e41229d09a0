"""The integration guides cannot rot (issue 16, item 7): every code block in
docs/integration-v4.md and docs/integration-v5.md runs against a live server on loopback, in
order, as a reader would type it. The docs' placeholders (`https://consentry.example`, the client
id `housing-grant-demo`) are replaced by the live server's URL and a fresh client id; where a
doc says "register the app" or "send the citizen's browser", the test does that part (marked in
the doc, see tests/docs/blocks.py). A failing block is reported by doc and line."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from consent.apps import register_app
from core.clock import utcnow
from identity.accounts import enrol
from profile_store.citizens import reveal_uinfin
from tests.docs.blocks import CODE_LANGUAGES, Block, blocks
from tests.fapi.flow import citizen_with
from tests.http.citizen_browser import PASSWORD, Browser

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"integration-v4.md": ["myinfo-v4"], "integration-v5.md": ["myinfo-v5"]}
BASE = "https://consentry.example"
CLIENT_ID = "housing-grant-demo"
REDIRECT_URI = "https://grants.example.gov/callback"  # registered as the docs write it


class DocBlockFailed(AssertionError):
    pass


class ApprovingBrowser(Browser):
    """Ticks, of the items it is told to approve, those the consent screen offers."""

    def submit(self, url, page, fields):
        offered = [f for f in fields if f[0] != "attributes" or f'value="{f[1]}"' in page.text]
        return super().submit(url, page, offered)


class Reader:
    """Runs one doc's blocks in order in one namespace, playing the operator and the citizen
    where the doc hands over to them."""

    def __init__(self, live, profiles: list[str]) -> None:
        self.live, self.profiles = live, profiles
        self.client_id = f"doc-{secrets.token_hex(4)}"
        self.namespace: dict[str, Any] = {"__name__": "__doc__"}
        self.citizen: tuple[str, str] | None = None

    def substitute(self, code: str) -> str:
        return code.replace(BASE, self.live.url).replace(CLIENT_ID, self.client_id)

    def run(self, block: Block) -> None:
        code = self.substitute(block.code)
        try:
            if block.lang == "python":
                # Padded so a traceback points at the doc's own line numbers.
                exec(compile("\n" * (block.line - 1) + code, str(block.doc), "exec"), self.namespace)  # noqa: S102
            elif block.lang == "sh":
                self.shell(code)
            else:
                raise DocBlockFailed(f"a ```{block.lang} block cannot be run; make it python or sh")
            if block.then == "register":
                self.register()
            elif block.then == "browser":
                self.citizen_approves()
        except Exception as exc:
            raise DocBlockFailed(f"{block.where}: {type(exc).__name__}: {exc}") from exc

    def shell(self, code: str) -> None:
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],  # noqa: S607
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")

    def register(self) -> None:
        """What the doc asks of the operator: the example registration with this doc's keys."""
        document = json.loads((ROOT / "examples/agency-app.json").read_text())
        document.update(
            client_id=self.client_id,
            redirect_uris=[REDIRECT_URI],
            jwks=self.namespace["jwks"],
            profiles=self.profiles,
        )
        rt = self.live.app.extensions["consentry"]
        with rt.sessions() as session:
            register_app(session, document=document, catalogue=rt.catalogue, now=utcnow())
            session.commit()
            citizen = citizen_with(session, rt, "cpfbalances")
            uinfin = reveal_uinfin(rt.vault, citizen)
            enrolment = enrol(session, vault=rt.vault, uinfin=uinfin, password=PASSWORD, now=utcnow())
            session.commit()
        self.citizen = (uinfin, enrolment.totp_secret)
        self.optional = document["purposes"][0]["optional"]

    def citizen_approves(self) -> None:
        """The citizen follows `authorization_url`, signs in and approves every item; the app's
        redirect URI receives the query, which the doc's next block reads as `request.args`."""
        assert self.citizen, "the doc sends the browser before registering the app"
        uinfin, totp = self.citizen
        browser = ApprovingBrowser(self.live.url)
        params = browser.follow_to_app(
            browser.get(self.namespace["authorization_url"]),
            uinfin=uinfin,
            totp=totp,
            approve=self.optional,
            redirect_uri=REDIRECT_URI,
        )
        self.namespace["request"] = SimpleNamespace(args=params)


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_every_code_block_is_marked(doc):
    unmarked = [
        block.where
        for block in blocks(ROOT / "docs" / doc)
        if block.lang in CODE_LANGUAGES and not block.kind
    ]
    assert unmarked == [], "code blocks without a doc-test marker (tests/docs/blocks.py)"


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_json_samples_parse(doc):
    for block in blocks(ROOT / "docs" / doc):
        if block.kind == "json":
            try:
                json.loads(block.code)
            except ValueError as exc:
                raise DocBlockFailed(f"{block.where}: {exc}") from None


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_docs_code_runs_against_a_live_server(live, monkeypatch, doc):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # loopback http in tests only
    reader = Reader(live, DOCS[doc])
    ran = [block for block in blocks(ROOT / "docs" / doc) if block.kind == "run"]
    assert ran, f"{doc} has no block to run"
    for block in ran:
        reader.run(block)


def test_a_failing_block_names_its_doc_and_line(live, tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# Guide\n\n<!-- doc-test: run -->\n```python\nx = 1\nassert x == 2, 'the doc is wrong'\n```\n\n"
        "<!-- doc-test: run -->\n```sh\ncurl -sf https://consentry.example/no-such-page\n```\n"
    )
    reader = Reader(live, ["myinfo-v5"])
    python, shell = (block for block in blocks(doc) if block.kind == "run")
    with pytest.raises(DocBlockFailed, match=r"^guide\.md:5: AssertionError: the doc is wrong") as failed:
        reader.run(python)
    frames = traceback.extract_tb(failed.value.__cause__.__traceback__)
    assert (frames[-1].filename, frames[-1].lineno) == (str(doc), 6), "the traceback points into the doc"
    with pytest.raises(DocBlockFailed, match=r"^guide\.md:11: RuntimeError: exit 22"):
        reader.run(shell)
