"""Central pension fund: contribution history, employers, account balances, housing withdrawals,
schemes.
"""

from __future__ import annotations

from ..http import HttpAgencyConnector


class PensionConnector(HttpAgencyConnector):
    agency = "pension"
