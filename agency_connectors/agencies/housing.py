"""Housing board: housing type, public flat type and ownership (loans, purchase dates). Private owners
have no record.
"""

from __future__ import annotations

from ..http import HttpAgencyConnector


class HousingConnector(HttpAgencyConnector):
    agency = "housing"
