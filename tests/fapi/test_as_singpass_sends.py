"""Requests as Singpass's own documentation and samples build them, beside the library shapes
tests/fapi/flow.py makes by default: a client assertion with `typ: JWT` (SP-CA says "Must be
JWT"; oauth4webapi sends none), DPoP proofs with `exp` (SP-DPOP, the Singpass Node demo) and
without (openid-client, the GovTech helper, Singpass's userinfo sample), at PAR, token and
userinfo."""

from __future__ import annotations

import time

import pytest

from tests.fapi import flow
from tests.fapi.flow import PAR_URL, TOKEN_URL, USERINFO_URL, assertion, dpop_proof


def proof(key, *, method: str, url: str, with_exp: bool, **claims) -> str:
    exp = int(time.time()) + 120 if with_exp else None  # SP-DPOP: exp <= iat + 120
    return dpop_proof(key, method=method, url=url, exp=exp, **claims)


@pytest.mark.parametrize("typ", ["JWT", None], ids=["typ JWT (SP-CA)", "no typ (oauth4webapi)"])
@pytest.mark.parametrize("with_exp", [True, False], ids=["DPoP with exp", "DPoP without exp"])
def test_the_whole_flow_accepts_either_shape(
    client, keys, citizen, verifier, dpop_key, platform_jwks, typ, with_exp
):
    flow.v4.sign_in(client, citizen.id)
    form = flow.par_form(keys, verifier, client_assertion=assertion(keys.signing, header={"typ": typ}))
    pushed = flow.post_par(client, form, dpop=proof(dpop_key, method="POST", url=PAR_URL, with_exp=with_exp))
    assert pushed.status_code == 201, pushed.text

    path = flow.v4.consent_path(flow.authorize(client, pushed.get_json()["request_uri"]))
    params = flow.v4.redirect_params(flow.v4.decide(client, path, attributes=["cpfbalances"]))
    token_form = flow.token_form(
        keys, params["code"], verifier, client_assertion=assertion(keys.signing, header={"typ": typ})
    )
    issued = flow.post_token(
        client, token_form, dpop=proof(dpop_key, method="POST", url=TOKEN_URL, with_exp=with_exp)
    )
    assert issued.status_code == 200, issued.text

    access_token = issued.get_json()["access_token"]
    info = flow.userinfo(
        client,
        access_token,
        dpop_key,
        proof=proof(dpop_key, method="GET", url=USERINFO_URL, with_exp=with_exp, access_token=access_token),
    )
    assert info.status_code == 200, info.text


def test_strict_audience_holds_at_the_token_endpoint_too(app, client, keys, citizen, verifier, dpop_key):
    """FAPI_STRICT_AUD (FAPI 2.0 Final §5.3.2.1): the token URL as `aud`, which the Singpass Java
    demo sends, is refused; the issuer, which Singpass's guide and openid-client send, is not. A
    refused client authentication does not spend the code."""
    rt = app.extensions["consentry"]
    rt.config = rt.config.replace(fapi_strict_aud=True)
    params = flow.get_code(client, citizen.id, keys, verifier, dpop_key)
    by_url = flow.token_form(
        keys, params["code"], verifier, client_assertion=assertion(keys.signing, aud=TOKEN_URL)
    )
    refused = flow.post_token(client, by_url, dpop=dpop_proof(dpop_key, method="POST", url=TOKEN_URL))
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert flow.ISSUER in refused.get_json()["error_description"]
    by_issuer = flow.token_form(keys, params["code"], verifier)
    issued = flow.post_token(client, by_issuer, dpop=dpop_proof(dpop_key, method="POST", url=TOKEN_URL))
    assert issued.status_code == 200, issued.text
