"""REST API blueprint under ``/api/v1`` (JSON; the contract is in DESIGN.md "Interfaces").

CSRF-exempt: it is a JSON API called by scripts and pipelines, not by browser forms.
"""

from lifecycle.api import evidence as _evidence  # noqa: F401,I001 - registers key/evidence views
from lifecycle.api import audit as _audit  # noqa: F401,I001 - registers the audit views
from lifecycle.api import records as _records  # noqa: F401,I001 - registers gate-record views
from lifecycle.api import approvals as _approvals  # noqa: F401,I001 - approvals and waivers
from lifecycle.api import tokens as _tokens  # noqa: F401,I001 - registers POST /token
from lifecycle.api.views import bp

__all__ = ["bp"]
