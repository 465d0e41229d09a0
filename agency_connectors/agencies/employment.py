"""Ministry of manpower: occupation, employer, sector and work passes."""

from __future__ import annotations

from ..http import HttpAgencyConnector


class EmploymentConnector(HttpAgencyConnector):
    agency = "employment"
