"""Ministry of education: highest level, school, graduation year, qualifications."""

from __future__ import annotations

from ..http import HttpAgencyConnector


class EducationConnector(HttpAgencyConnector):
    agency = "education"
