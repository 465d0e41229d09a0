"""Issue 12, item 11: an app that cannot work is refused by every way of registering or updating
one (the service here; the CLI in test_apps_cli.py, the admin page in tests/app/test_admin_apps.py),
with every problem reported at once, by field."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey, RSAKey

from consent.apps import get_app, register_app, registration_document, update_app
from consent.client_keys import PROFILE_KEYS, jwks_problems
from core.errors import ValidationFailed
from tests.consent.test_apps_and_consents import ENC, SIG, document


def public(key) -> dict:
    return key.as_dict(private=False)


def without(jwk: dict, *names: str) -> dict:
    return {name: value for name, value in jwk.items() if name not in names}


P384_SIG = public(ECKey.generate_key("P-384", {"use": "sig", "alg": "ES384", "kid": "s384"}))
P384_ENC = public(ECKey.generate_key("P-384", {"use": "enc", "alg": "ECDH-ES+A192KW", "kid": "e384"}))
RSA_SIG = public(RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256", "kid": "rsa"}))
V5_PURPOSE = [{"id": "only", "description": "The one purpose of a v5 app.", "required": ["uinfin"]}]


def refusal(session, runtime, now, **overrides) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        register_app(session, document=document(**overrides), catalogue=runtime.catalogue, now=now)
    return caught.value.errors


def joined(errors: dict, field: str) -> str:
    return " | ".join(map(str, errors[field]))


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        # The reported cases: an empty key set and no profiles, through the admin page.
        ({"jwks": {}}, "jwks", 'must be a JSON object with a "keys" list'),
        ({"jwks": {"keys": []}}, "jwks", "myinfo-v4 needs a signing key"),
        ({"profiles": []}, "profiles", "give at least one of myinfo-v4, myinfo-v5"),
        ({"jwks": None}, "jwks", "give exactly one of jwks or jwks_uri"),
        ({"jwks": {"keys": [ENC]}}, "jwks", "myinfo-v4 needs a signing key for client assertions"),
        ({"jwks": {"keys": [SIG]}}, "jwks", 'myinfo-v4 needs an encryption key: EC P-256, use "enc"'),
        ({"jwks": {"keys": [RSA_SIG, ENC]}}, "jwks", "needs a signing key"),  # RS256 is never accepted
        ({"jwks": {"keys": [P384_SIG, P384_ENC]}}, "jwks", "myinfo-v4 needs a signing key"),  # P-256 only
        ({"jwks": {"keys": [{**SIG, "alg": "ES384"}, ENC]}}, "jwks", "needs a signing key"),
        ({"jwks": {"keys": [SIG, {**ENC, "use": "sig"}]}}, "jwks", "needs an encryption key"),
        ({"jwks": {"keys": [SIG, {**ENC, "alg": "ECDH-ES+A128KW"}]}}, "jwks", "needs an encryption key"),
        ({"jwks": {"keys": [{**SIG, "x": SIG["y"]}, ENC]}}, "jwks", "keys[0] (s1): not a valid EC P-256"),
        (
            {"jwks": {"keys": [SIG, ECKey.generate_key("P-256", {"use": "enc"}).as_dict(private=True)]}},
            "jwks",
            "holds private key material",
        ),
        ({"jwks": {"keys": ["s1", ENC]}}, "jwks", "keys[0]: not a JSON object"),
        ({"redirect_uris": []}, "redirect_uris", "give 1 to 10 redirect URIs"),
        ({"purposes": []}, "purposes", "give at least one purpose"),
        ({"allowed_attributes": []}, "allowed_attributes", "give at least one attribute"),
        ({"profiles": ["myinfo-v4", "myinfo-v4"]}, "profiles", "a profile is listed twice"),
        (
            {"purposes": [document()["purposes"][0], document()["purposes"][0]]},
            "purposes",
            "purpose grant is given twice",
        ),
        (
            {"purposes": [{"id": "empty", "description": "A purpose asking nothing."}]},
            "purposes",
            "purpose empty asks for no attribute",
        ),
        (
            {
                "profiles": ["myinfo-v5"],
                "purposes": [*V5_PURPOSE, {**V5_PURPOSE[0], "id": "second"}],
            },
            "purposes",
            "a myinfo-v5 app has exactly one purpose, not 2",
        ),
    ],
)
def test_an_app_that_cannot_work_is_refused_naming_the_field(
    db_session, runtime, now, overrides, field, problem
):
    assert problem in joined(refusal(db_session, runtime, now, **overrides), field)


def test_every_problem_is_reported_at_once_by_field(db_session, runtime, now):
    errors = refusal(
        db_session,
        runtime,
        now,
        jwks={"keys": []},
        profiles=["myinfo-v4", "myinfo-v5"],
        redirect_uris=[],
        allowed_attributes=["uinfin", "shoesize"],
        purposes=[
            {"id": "grant", "description": "To assess your application.", "required": ["name"]},
            {"id": "x", "description": "short"},
        ],
        surprise=1,
    )
    assert set(errors) == {"jwks", "redirect_uris", "allowed_attributes", "purposes", "surprise"}
    keys = joined(errors, "jwks")
    for need in ("myinfo-v4 needs a signing key", "myinfo-v4 needs an encryption key", "myinfo-v5 needs a"):
        assert need in keys
    assert "unknown: ['shoesize']" in joined(errors, "allowed_attributes")


def test_the_checks_of_a_refused_field_are_skipped_not_run_on_half_of_it(db_session, runtime, now):
    """A purpose the schema refused is not also judged against the allowed attributes."""
    errors = refusal(
        db_session,
        runtime,
        now,
        purposes=[{"id": "p1", "description": "A long enough purpose.", "required": ["dob"]}],
    )
    assert list(errors) == ["purposes"] and "id" in errors["purposes"][0]


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # v4: a P-256 ES256 signing key, a P-256 ECDH-ES+A256KW encryption key
        {"jwks": {"keys": [without(SIG, "use", "alg"), without(ENC, "alg")]}},  # defaults: sig, A256KW
        {"jwks": {"keys": [RSA_SIG, SIG, ENC]}},  # other key types are ignored, as at run time
        {"profiles": ["myinfo-v5"], "purposes": V5_PURPOSE, "jwks": {"keys": [P384_SIG, P384_ENC]}},
        {"profiles": ["myinfo-v4", "myinfo-v5"], "purposes": V5_PURPOSE},
        {"jwks": None, "jwks_uri": "https://keys.example.gov/jwks"},  # fetched at run time only
    ],
)
def test_apps_that_can_work_register(db_session, runtime, now, overrides):
    assert register_app(db_session, document=document(**overrides), catalogue=runtime.catalogue, now=now)


def test_an_update_cannot_make_an_app_unusable_and_changes_nothing(db_session, runtime, now):
    register_app(db_session, document=document(), catalogue=runtime.catalogue, now=now)
    before = registration_document(db_session, "housing-grant-app")
    with pytest.raises(ValidationFailed) as caught:
        update_app(
            db_session,
            document=document(jwks={"keys": [SIG]}, profiles=[], client_id="other-app"),
            catalogue=runtime.catalogue,
            now=now,
            client_id="housing-grant-app",
        )
    assert set(caught.value.errors) == {"profiles", "client_id"}  # the key check needs valid profiles
    with pytest.raises(ValidationFailed) as caught:
        update_app(db_session, document=document(jwks={"keys": [SIG]}), catalogue=runtime.catalogue, now=now)
    assert "needs an encryption key" in joined(caught.value.errors, "jwks")
    assert registration_document(db_session, "housing-grant-app") == before
    assert get_app(db_session, "housing-grant-app").jwks["keys"][1]["use"] == "enc"


def test_the_key_needs_are_what_the_wire_profiles_ask_at_run_time():
    """consent/client_keys.py cannot import the Flask layer; it must agree with it."""
    from app.fapi.profile import CLIENT_CURVES, ID_TOKEN_ENCRYPTION, SIGNING_ALGS, USERINFO_ENCRYPTION
    from app.oauth import jwks
    from app.oauth.release import V4_PERSON
    from consent import client_keys

    assert client_keys.CURVE_OF == jwks.CURVE_OF and client_keys.ECDH_ALGORITHMS == jwks.ECDH_ALGORITHMS
    assert client_keys.DEFAULT_ECDH == jwks.DEFAULT_ECDH and client_keys.MAX_KEYS == jwks.MAX_KEYS
    v4, v5 = PROFILE_KEYS["myinfo-v4"], PROFILE_KEYS["myinfo-v5"]
    assert v4.signing_algorithms == ("ES256",)  # ClientPolicy's default, which MyInfo v4 uses
    assert (v4.encryption_curves, v4.encryption_algorithms) == (V4_PERSON.curves, V4_PERSON.key_algorithms)
    assert v5.signing_algorithms == SIGNING_ALGS
    for encryption in (ID_TOKEN_ENCRYPTION, USERINFO_ENCRYPTION):
        assert (v5.encryption_curves, v5.encryption_algorithms) == (
            encryption.curves,
            encryption.key_algorithms,
        )
    assert v5.encryption_curves == CLIENT_CURVES


def test_jwks_problems_accepts_exactly_what_the_run_time_resolver_can_use():
    """Each key set the domain accepts, the Flask layer's resolver finds both keys in."""
    from app.oauth.jwks import JwksResolver

    for keys in ([SIG, ENC], [P384_SIG, P384_ENC, RSA_SIG]):
        profile = "myinfo-v4" if keys[0] is SIG else "myinfo-v5"
        needs = PROFILE_KEYS[profile]
        assert jwks_problems({"keys": keys}, [profile]) == []
        resolver = JwksResolver(jwks={"keys": keys})
        assert resolver.signing_keys(needs.signing_algorithms)
        assert resolver.encryption_key(needs.encryption_algorithms, needs.encryption_curves)
