"""Names simple_salesforce.metadata imports from zeep.xsd (see zeep/__init__.py)."""
from zeep import _Absent


class AnySimpleType(_Absent):
    pass


class ComplexType(_Absent):
    pass


class CompoundValue(_Absent):
    pass
