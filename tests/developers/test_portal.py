"""The developer portal's pages and /openapi.json, through the app's test client."""

from __future__ import annotations

import pytest

from app.developers.openapi import operation_count
from app.fapi.scopes import SUB_ATTRIBUTES
from app.security import SECURITY_HEADERS

PAGES = [
    "/developers/",
    "/developers/flows/v4",
    "/developers/flows/v5",
    "/developers/errors",
    "/developers/attributes",
    "/developers/log",
    "/developers/reference",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_answer_under_the_sites_csp(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert "<script" not in response.get_data(as_text=True).replace(
        '<script type="module" src="/static/app.js">', ""
    )


def test_openapi_document_is_3_1_with_every_json_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://localhost"}]
    paths = document["paths"]
    for path in (
        "/com/v4/token",
        "/com/v4/person/{sub}",
        "/fapi/par",
        "/fapi/token",
        "/fapi/userinfo",
        "/api/citizen/disclosures",
        "/api/citizen/consents",
        "/api/audit/proofs/inclusion",
        "/api/agency-apps/receipts",
        "/api/agency-apps/consents/status",
        "/agency-notifications/{agency}",
        "/.well-known/keys.json",
    ):
        assert path in paths
    schemes = document["components"]["securitySchemes"]
    assert {"dpop", "citizenSession", "agencySignature", "myinfoV4", "myinfoV5"} <= set(schemes)
    assert operation_count(document) == 29


def test_every_documented_path_is_a_route(app, client):
    """The document names no path the app does not serve (with its parameters filled in)."""
    rules = {rule.rule.replace("<int:", "<").replace("<path:", "<") for rule in app.url_map.iter_rules()}
    documented = client.get("/openapi.json").get_json()["paths"]
    served = {path.replace("{", "<").replace("}", ">") for path in documented}
    assert served - rules == set()


def test_schemas_come_from_the_endpoints_marshmallow_schemas(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    # The citizen API's and audit API's own schemas, not copies.
    assert schemas["HistoryPageOut"]["properties"]["entries"]["items"] == {
        "$ref": "#/components/schemas/HistoryItemOut"
    }
    assert set(schemas["InclusionProof"]["required"]) == {
        "leaf_index",
        "tree_size",
        "leaf_hash",
        "audit_path",
        "root_hash",
    }
    assert schemas["MyinfoErrorOut"]["required"] == ["code", "error", "error_description", "message"]


def test_reference_page_lists_every_operation(client):
    page = client.get("/developers/reference").get_data(as_text=True)
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()}</strong>{path}" in page


def test_attribute_page_lists_the_catalogue_with_sub_items(client, app):
    page = client.get("/developers/attributes").get_data(as_text=True)
    catalogue = app.extensions["consentry"].catalogue
    for name, attribute in catalogue.attributes.items():
        assert f'id="attr-{name}"' in page
        assert attribute.label.replace("'", "&#39;") in page
    assert "<code>cpfbalances.oa</code>" in page
    assert all(f"<code>vehicles.{sub}</code>" in page for sub in SUB_ATTRIBUTES["vehicles"])


def test_index_names_the_jwks_and_discovery_urls(client):
    page = client.get("/developers/").get_data(as_text=True)
    for url in (
        "http://localhost/.well-known/keys.json",
        "http://localhost/com/v4/.well-known/openid-configuration",
        "http://localhost/fapi/.well-known/openid-configuration",
        "http://localhost/openapi.json",
    ):
        assert url in page
    assert 'href="/developers/sandbox"' in page
