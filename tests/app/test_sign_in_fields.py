"""The sign-in, activation and recovery forms share their fields (app/templates/_fields.html):
on each, an empty post names every field's problem next to it, every error-summary link lands on
an input of the page, the citizen forms speak the citizen's language, the staff form stays English."""

from __future__ import annotations

import html
import re

import pytest

from tests.app.test_i18n import CSRF_INPUT, choose_chinese

FORMS = {
    "/citizen/sign-in": ("uinfin", "password", "code"),
    "/citizen/activate": ("uinfin", "code"),
    "/citizen/recover": ("uinfin", "password", "recovery_code"),
    "/staff/sign-in": ("username", "password", "code"),
}


def post_empty(client, path: str):
    token = CSRF_INPUT.search(client.get(path).text).group(1)
    return client.post(path, data={"csrf_token": token, **dict.fromkeys(FORMS[path], "")})


def field_errors(page: str) -> dict[str, str]:
    """{input id: its error message}, as shown next to each field."""
    found = re.findall(r'<p id="([\w-]+)-error" class="govuk-error-message">(.*?)</p>', page, re.DOTALL)
    return {name: html.unescape(re.sub(r"<[^>]+>|\s+", " ", text)).strip() for name, text in found}


def summary_targets(page: str) -> list[str]:
    summary = re.search(r"govuk-error-summary__list.*?</ul>", page, re.DOTALL)
    assert summary, "no error summary"
    return re.findall(r'href="#([\w-]+)"', summary.group(0))


@pytest.mark.parametrize("path", FORMS)
def test_an_empty_form_names_each_field_and_links_to_its_input(client, path):
    response = post_empty(client, path)
    assert response.status_code == 400
    page = response.text
    errors = field_errors(page)
    targets = summary_targets(page)
    assert targets and all(re.search(rf'<input[^>]+id="{t}"', page) for t in targets), targets
    assert set(targets) <= set(errors), (targets, errors)
    # The input each message sits under is the one its summary link names.
    for name in errors:
        assert re.search(rf'<input[^>]+id="{name}"[^>]+aria-describedby="[^"]*{name}-error', page), name


@pytest.mark.parametrize("path", ["/citizen/sign-in", "/citizen/activate", "/citizen/recover"])
def test_citizen_forms_label_and_explain_their_fields_in_chinese(client, path):
    choose_chinese(client, path)
    page = post_empty(client, path).text
    assert "NRIC or FIN</label>" not in page and "身份证" in page
    assert all(message and not re.search(r"[A-Za-z]{4,}", message) for message in field_errors(page).values())
    assert '<span class="govuk-visually-hidden">Error:</span>' not in page


def test_the_staff_form_is_english_whatever_the_language_chosen(client):
    choose_chinese(client, "/staff/sign-in")
    page = post_empty(client, "/staff/sign-in").text
    assert "Security code" in page and "The 6-digit code from your authenticator app" in page
    assert 'data-i18n.show-password="Show"' in page
    assert "Enter your password" in field_errors(page)["password"]
    assert not re.search(r"[\u4e00-\u9fff]", page.split("<header", 1)[-1].split("<footer", 1)[0])
