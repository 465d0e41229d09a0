"""National identity registry: names, birth, nationality, residential status, passport and registered
address. Every citizen has a record.
"""

from __future__ import annotations

from ..http import HttpAgencyConnector


class IdentityConnector(HttpAgencyConnector):
    agency = "identity"
