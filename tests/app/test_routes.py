"""Route inventory: every endpoint declares a guard; every form page carries a CSRF token."""

from app.security import SECURITY_HEADERS


def test_every_route_declares_a_guard(app):
    unguarded = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not hasattr(app.view_functions[rule.endpoint], "_guard")
    ]
    assert unguarded == []


def test_csrf_is_on_for_every_blueprint_except_signed_machine_calls(app):
    """Agency notices are HMAC-signed; MyInfo token and person calls carry a client assertion or
    an access token with a DPoP proof, never a cookie. Every form a person submits has CSRF."""
    csrf = app.extensions["csrf"]
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    exempt = {getattr(bp, "name", bp) for bp in csrf._exempt_blueprints}
    assert exempt == {"agency_api", "agency_corrections", "agency_receipts", "myinfo_v4", "fapi"}
    assert not csrf._exempt_views


def test_pages_carry_security_headers_and_are_not_frameable(client):
    response = client.get("/healthz")
    for name in SECURITY_HEADERS:
        assert name in response.headers
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_unknown_path_is_a_404_page_not_a_500(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404


def test_wrong_method_gets_405_with_allow_header(client):
    response = client.get("/agency-notifications/tax")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"
