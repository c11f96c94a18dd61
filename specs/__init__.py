"""Framework-free handling of OpenAPI documents: load, validate, locate, index.

Public surface::

    from specs import load_document, LoadLimits, SpecDocument, SpecLoadError
    from specs import validate_document, ValidationIssue
    from specs import Position

Nothing here imports Flask or ``lifecycle``; every function takes and returns plain values.
"""

from specs.document import Position, SpecDocument
from specs.errors import SpecLoadError
from specs.load import LoadLimits, load_document, too_large
from specs.validate import ValidationIssue, validate_document

__all__ = [
    "LoadLimits",
    "Position",
    "SpecDocument",
    "SpecLoadError",
    "ValidationIssue",
    "load_document",
    "too_large",
    "validate_document",
]
