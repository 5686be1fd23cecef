"""Names simple_salesforce.metadata imports from zeep.proxy (see zeep/__init__.py)."""
from zeep import _Absent


class ServiceProxy(_Absent):
    pass
