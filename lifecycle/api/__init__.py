"""REST API blueprint under ``/api/v1`` (JSON; the contract is in DESIGN.md "Interfaces").

CSRF-exempt: it is a JSON API called by scripts and pipelines, not by browser forms.
"""

from lifecycle.api import evidence as _evidence  # noqa: F401,I001 - registers key/evidence views
from lifecycle.api.views import bp

__all__ = ["bp"]
