"""REST API blueprint under ``/api/v1`` (JSON; the contract is in DESIGN.md "Interfaces").

CSRF-exempt: it is a JSON API called by scripts and pipelines, not by browser forms.
:mod:`.views` (APIs, versions, specs, transitions), :mod:`.evidence`, :mod:`.audit`,
:mod:`.records`, :mod:`.approvals`, :mod:`.tokens` and :mod:`.admin` (users, teams) each
list their routes in their ``register(bp)``; :func:`blueprint` builds a fresh blueprint
from them for ``create_app`` (nothing registers itself on import).  Errors: :mod:`.errors`.
"""

from __future__ import annotations

from flask import Blueprint

from lifecycle.api import admin, approvals, audit, evidence, records, tokens, views
from lifecycle.core.extensions import csrf


def blueprint() -> Blueprint:
    """A new blueprint ``api`` (prefix ``/api/v1``, CSRF-exempt) with every REST view."""
    bp = Blueprint("api", __name__, url_prefix="/api/v1")
    for module in (views, evidence, audit, records, approvals, tokens, admin):
        module.register(bp)
    csrf.exempt(bp)
    return bp


__all__ = ["blueprint"]
