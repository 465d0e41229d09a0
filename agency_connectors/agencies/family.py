"""Family registry: marital status, marriage and divorce, children's birth records."""

from __future__ import annotations

from ..http import HttpAgencyConnector


class FamilyConnector(HttpAgencyConnector):
    agency = "family"
