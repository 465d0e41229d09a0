"""Land transport authority: vehicles and driving licence. Many citizens have no record."""

from __future__ import annotations

from ..http import HttpAgencyConnector


class TransportConnector(HttpAgencyConnector):
    agency = "transport"
