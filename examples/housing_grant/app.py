"""A demo agency app: an "Enhanced Housing Grant" form that pre-fills itself from Consentry.

It is what an agency would write: a few routes around examples/myinfo_v4_client.py. Its keys are
published demo keys (demo-private-keys.json) registered in examples/agency-app.json; a real app
keeps its private keys secret. `consentry demo` serves it on http://127.0.0.1:3001/.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, abort, redirect, render_template_string, request, session
from joserfc.jwk import ECKey

from examples.myinfo_v4_client import MyInfoV4Client, ServerError

HERE = Path(__file__).resolve().parent
REGISTRATION = json.loads((HERE.parent / "agency-app.json").read_text())
PURPOSE = REGISTRATION["purposes"][0]
SCOPE = PURPOSE["required"] + PURPOSE["optional"]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Enhanced Housing Grant (demo agency app)</title>
<style>
 body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
 label{display:block;font-weight:600;margin-top:1rem} input{width:100%;padding:.4rem;font-size:1rem}
 input[readonly]{background:#eee} .hint{color:#555;font-size:.9rem} .error{color:#b00}
 button{font-size:1.1rem;padding:.5rem 1rem;margin-top:1rem}
</style></head><body>
<p class="hint">Housing Board · demo agency app (not part of Consentry)</p>
<h1>Apply for the Enhanced Housing Grant</h1>
{% if error %}<p class="error">{{ error }}</p>{% endif %}
{% if not person %}
  <p>Save time: fill in this form with your details from government records, through Consentry.
  You choose what to share.</p>
  <form method="post" action="/retrieve"><button>Retrieve my details</button></form>
{% else %}
  <p>Filled in from Consentry. Government-verified details are read-only.</p>
  <form>
  {% for name, field in fields %}
    <label for="{{ name }}">{{ name }}</label>
    <input id="{{ name }}" value="{{ field.text }}" {% if field.verified %}readonly{% endif %}>
    <span class="hint">{{ field.note }}</span>
  {% endfor %}
  {% for name in missing %}
    <label for="{{ name }}">{{ name }}</label><input id="{{ name }}" value="">
    <span class="hint">Not shared: please fill in.</span>
  {% endfor %}
  </form>
{% endif %}
</body></html>"""


def create_demo_agency_app(consentry_url: str, *, base_url: str = "http://127.0.0.1:3001") -> Flask:
    if consentry_url.startswith("http://"):
        os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the demo runs on loopback http
    keys = {key["use"]: ECKey.import_key(key) for key in _private_keys()}
    client = MyInfoV4Client(
        base_url=consentry_url,
        client_id=REGISTRATION["client_id"],
        redirect_uri=f"{base_url}/callback",
        signing_key=keys["sig"],
        encryption_key=keys["enc"],
    )
    app = Flask(__name__)
    # Another site on the same host: its own cookie name, so neither overwrites the other's.
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_NAME="housing_grant_demo")

    @app.get("/")
    def form():
        return render_template_string(PAGE, person=None, error=request.args.get("error"))

    @app.post("/retrieve")
    def retrieve():
        state = secrets.token_urlsafe(16)
        url, verifier = client.authorization_url(scope=SCOPE, purpose_id=PURPOSE["id"], state=state)
        session.update(state=state, verifier=verifier)
        return redirect(url, 303)

    @app.get("/callback")
    def callback():
        if request.args.get("state") != session.pop("state", None):
            abort(400, "state does not match: start again")
        if request.args.get("iss") != f"{consentry_url.rstrip('/')}/com/v4":
            abort(400, "the response did not come from Consentry")
        if "error" in request.args:
            message = "You chose not to share your details. You can fill in the form yourself."
            return render_template_string(PAGE, person=None, error=message)
        try:
            person = client.person(
                code=request.args["code"], code_verifier=session.pop("verifier"), scope=SCOPE
            )
        except ServerError as exc:
            return render_template_string(PAGE, person=None, error=f"Consentry refused: {exc.body}")
        fields = [(name, _shown(item)) for name, item in person.items()]
        missing = [name for name in SCOPE if name not in person]
        return render_template_string(PAGE, person=person, fields=fields, missing=missing, error=None)

    return app


def _private_keys() -> list[dict[str, Any]]:
    return json.loads((HERE / "demo-private-keys.json").read_text())["keys"]


def _shown(item: Any) -> dict[str, Any]:
    """One person-format item as text for an input, with its provenance."""
    elements = item if isinstance(item, list) else [item]
    texts = [_text(element) for element in elements]
    first = elements[0] if elements else {}
    verified = bool(elements) and all(e.get("source") == "1" for e in elements)
    if not elements or first.get("unavailable"):
        note = "No record held by the agency"
    else:
        note = (
            "Government-verified" if verified else "Declared by you"
        ) + f", updated {first.get('lastupdated') or '?'}"
    return {"text": "; ".join(t for t in texts if t), "verified": verified, "note": note}


def _text(element: Any) -> str:
    if not isinstance(element, dict):
        return str(element)
    if "value" in element:
        return str(element["value"])
    if "desc" in element:
        return str(element["desc"])
    meta = {"source", "classification", "lastupdated", "unavailable"}
    return ", ".join(t for key, value in element.items() if key not in meta and (t := _text(value)))
