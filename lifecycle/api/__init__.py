"""REST API blueprint under ``/api/v1`` (JSON; the contract is in DESIGN.md "Interfaces").

CSRF-exempt: it is a JSON API called by scripts and pipelines, not by browser forms.
:mod:`.views` (APIs, versions, specs, transitions), :mod:`.evidence`, :mod:`.audit`,
:mod:`.records`, :mod:`.approvals` and :mod:`.tokens` hold the views of blueprint ``api``;
``create_app`` registers :data:`bp`.  Errors: :mod:`.errors`.
"""

from lifecycle.api import approvals, audit, evidence, records, tokens, views

#: blueprint ``api``: the views of every module of this package
bp = views.bp

__all__ = ["approvals", "audit", "bp", "evidence", "records", "tokens", "views"]
