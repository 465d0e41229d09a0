import json
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from profile_store.catalogue import DEFAULT_PATH, default_catalogue, load_catalogue, validate_item

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "specs" / "myinfo-sample-person.json"
SPEC_ATTRIBUTES = [
    "partialuinfin",
    "uinfin",
    "name",
    "hanyupinyinname",
    "aliasname",
    "hanyupinyinaliasname",
    "marriedname",
    "sex",
    "race",
    "secondaryrace",
    "dialect",
    "nationality",
    "dob",
    "birthcountry",
    "residentialstatus",
    "passportnumber",
    "passportexpirydate",
    "regadd",
    "mailadd",
    "billadd",
    "housingtype",
    "hdbtype",
    "hdbownership",
    "ownerprivate",
    "email",
    "homeno",
    "mobileno",
    "marital",
    "marriagecertno",
    "countryofmarriage",
    "marriagedate",
    "divorcedate",
    "childrenbirthrecords",
    "sponsoredchildrenrecords",
    "edulevel",
    "gradyear",
    "schoolname",
    "occupation",
    "employment",
    "passtype",
    "passstatus",
    "passexpirydate",
    "employmentsector",
    "householdincome",
    "dependants",
    "vehicles",
    "drivinglicence",
    "academicqualifications",
    "pioneergen",
    "merdekagen",
    "silversupport",
    "gstvoucher",
    "noa-basic",
    "noa",
    "noahistory-basic",
    "noahistory",
    "cpfcontributions",
    "cpfemployers",
    "cpfbalances",
    "cpfhousingwithdrawal",
    "cpfhomeprotectionscheme",
    "cpfdependantprotectionscheme",
    "cpfinvestmentscheme",
]


def test_catalogue_covers_every_v4_person_attribute_and_eight_agencies():
    catalogue = default_catalogue()
    assert set(SPEC_ATTRIBUTES) == set(catalogue.names())
    assert len(catalogue.source_agencies()) == 8


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared/specs not beside the checkout")
def test_every_item_of_the_spec_sample_fits_its_shape():
    catalogue = default_catalogue()
    person = json.loads(SAMPLE.read_text())
    for name, item in person.items():
        if name in catalogue:
            assert validate_item(catalogue[name], item) == [], name


@pytest.mark.parametrize(
    ("attribute", "item", "reason"),
    [
        ("name", {"value": ["list"]}, "string, number or boolean"),
        ("name", {"code": "x", "desc": "y"}, "exactly 'value'"),
        ("sex", {"code": 1, "desc": "MALE"}, "must be strings"),
        ("sex", "M", "expected an object"),
        ("vehicles", {"vehicleno": {"value": "x"}}, "expected a list"),
        ("vehicles", ["x"], "element 0"),
        ("noahistory", {"noas": "x"}, "list named 'noas'"),
        ("regadd", {"block": "102"}, "must be objects"),
        ("name", {"value": "x", "lastupdated": "23/11/2026"}, "YYYY-MM-DD"),
        ("name", {"unavailable": True, "value": "x"}, "carries values"),
    ],
)
def test_malformed_items_are_rejected_with_a_reason(attribute, item, reason):
    problems = validate_item(default_catalogue()[attribute], item)
    assert problems and reason in problems[0]


def test_a_deployment_adds_an_attribute_by_editing_data(tmp_path):
    text = DEFAULT_PATH.read_text()
    extra = (
        text + '\n[attributes.organdonor]\nlabel = "Organ donor"\nagency = "identity"\nshape = "value"\n'
        'sensitivity = "medium"\n'
    )
    path = tmp_path / "attributes.toml"
    path.write_text(extra)
    catalogue = load_catalogue(path)
    assert catalogue["organdonor"].agency == "identity"
    assert "organdonor" in [a.name for a in catalogue.owned_by("identity")]


@pytest.mark.parametrize(
    ("snippet", "complaint"),
    [
        (
            '[attributes.x]\nlabel = "X"\nagency = "nowhere"\nshape = "value"\nsensitivity = "low"\n',
            "unknown agency",
        ),
        ('[attributes.x]\nlabel = "X"\nagency = "tax"\nshape = "blob"\nsensitivity = "low"\n', "shape"),
        ('[attributes.x]\nlabel = "X"\nagency = "tax"\nshape = "history"\nsensitivity = "low"\n', "list_key"),
        (
            '[attributes.x]\nlabel = "X"\nagency = "tax"\nshape = "value"\nsensitivity = "low"\ncolour = 1\n',
            "colour",
        ),
    ],
)
def test_invalid_catalogue_stops_start_up_naming_the_problem(tmp_path, snippet, complaint):
    path = tmp_path / "bad.toml"
    path.write_text('[agencies]\ntax = { name = "Tax" }\n' + snippet)
    with pytest.raises(ConfigurationError, match=complaint):
        load_catalogue(path)


def test_unparseable_catalogue_is_a_configuration_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[attributes\n")
    with pytest.raises(ConfigurationError, match="unreadable"):
        load_catalogue(path)
