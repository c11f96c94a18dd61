"""REST API blueprint under ``/api/v1`` (JSON; the contract is in DESIGN.md "Interfaces").

CSRF-exempt: it is a JSON API called by scripts and pipelines, not by browser forms.
:mod:`.views` (APIs, versions, specs, transitions), :mod:`.evidence`, :mod:`.audit`,
:mod:`.records`, :mod:`.approvals`, :mod:`.tokens`, :mod:`.jobs`, :mod:`.gateway`,
:mod:`.admin` (users, teams) and :mod:`.contract` (the served ``openapi.json``) each list
their routes in their ``register(bp)``; :func:`blueprint` builds a fresh blueprint from them
for ``create_app`` (nothing registers itself on import).  Errors: :mod:`.errors`.
"""

from __future__ import annotations

from flask import Blueprint

from lifecycle.api import (
    admin,
    approvals,
    audit,
    contract,
    evidence,
    gateway,
    jobs,
    records,
    tokens,
    views,
)
from lifecycle.core.extensions import csrf


def blueprint() -> Blueprint:
    """A new blueprint ``api`` (prefix ``/api/v1``, CSRF-exempt) with every REST view."""
    bp = Blueprint("api", __name__, url_prefix="/api/v1")
    for module in (views, evidence, gateway, audit, records, approvals, tokens, jobs, admin,
                   contract):
        module.register(bp)
    csrf.exempt(bp)
    return bp


__all__ = ["blueprint"]
