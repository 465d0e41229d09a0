"""One module per agency. Each names its agency code and anything its API does differently."""

from .education import EducationConnector
from .employment import EmploymentConnector
from .family import FamilyConnector
from .housing import HousingConnector
from .identity import IdentityConnector
from .pension import PensionConnector
from .tax import TaxConnector
from .transport import TransportConnector

CONNECTOR_CLASSES = {
    cls.agency: cls
    for cls in (
        IdentityConnector,
        TaxConnector,
        PensionConnector,
        HousingConnector,
        TransportConnector,
        EmploymentConnector,
        EducationConnector,
        FamilyConnector,
    )
}
