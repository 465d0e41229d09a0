"""Flow helpers for the staff pages: sign a member of staff in through /staff/sign-in exactly as a
browser does (the CSRF token from the form, a fresh TOTP code)."""

from __future__ import annotations

import re

from tests.factories import StaffLogin, make_staff

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SIGN_IN = "/staff/sign-in"


def csrf_token(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_INPUT.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def form_token(client) -> str:
    """A CSRF token: from the sign-in form, or (already signed in, it redirects) the home page."""
    page = client.get(SIGN_IN)
    if page.status_code == 200:
        return CSRF_INPUT.search(page.text).group(1)
    return csrf_token(client, "/")


def staff_login(client, staff: StaffLogin, **overrides):
    """POST the staff sign-in form for `staff`; `overrides` replace fields (a wrong code...)."""
    form = {
        "csrf_token": form_token(client),
        "username": staff.username,
        "password": staff.password,
        **overrides,
    }
    if "code" not in form:
        form["code"] = staff.next_code()
    return client.post(SIGN_IN, data=form)


def new_staff(client, *roles: str, **kwargs) -> StaffLogin:
    """A member of staff with `roles`, committed through the app's own sessions (bound to the
    test's connection)."""
    rt = client.application.extensions["consentry"]
    with rt.sessions() as session:
        staff = make_staff(session, rt.config.secret_key, roles=roles or ("operator",), **kwargs)
        session.commit()
    return staff


def signed_in_staff(client, *roles: str) -> StaffLogin:
    """A new member of staff with `roles`, signed in on `client`."""
    staff = new_staff(client, *roles)
    response = staff_login(client, staff)
    assert response.status_code == 303, response.text[:2000]
    return staff
