"""Tax authority: notices of assessment (latest and history), private property ownership, GST vouchers."""

from __future__ import annotations

from ..http import HttpAgencyConnector


class TaxConnector(HttpAgencyConnector):
    agency = "tax"
