"""The htmx web UI (blueprints ``web`` and ``accounts``).

Server-rendered pages; htmx swaps fragments of them.  Every page works as plain HTML forms
with JavaScript off (post-redirect-get with 303).  Views only parse forms, call one service
function and choose what to render.

- :mod:`.views` (board, API and version pages, rule catalog), :mod:`.evidence` (keys, JWKS,
  sample tokens), :mod:`.gateway` (the Gateway panel: settings, configuration, proofs),
  :mod:`.approvals` (promotion requests, waivers), :mod:`.audit` (the audit-trail page, its
  exports, gate-record downloads), :mod:`.inbox` (what waits for an approver) and :mod:`.jobs`
  (the status fragment of long work) hold the views of blueprint ``web``;
  :mod:`.version_page` assembles the version page;
- :mod:`.accounts` (sign-in, second factor, own tokens) and :mod:`.admin` (users, teams) hold
  those of blueprint ``accounts``.

Each module lists its routes in its ``register(bp)``; :func:`blueprints` builds fresh
blueprints from them for ``create_app`` (nothing registers itself on import).
"""

from __future__ import annotations

from flask import Blueprint

from lifecycle.web import (
    accounts,
    admin,
    approvals,
    audit,
    evidence,
    gateway,
    inbox,
    jobs,
    views,
)


def blueprints() -> tuple[Blueprint, Blueprint]:
    """New blueprints ``web`` and ``accounts`` with every view of this package."""
    web = Blueprint("web", __name__)
    for module in (views, evidence, gateway, approvals, jobs, audit, inbox):
        module.register(web)
    account = Blueprint("accounts", __name__)
    for module in (accounts, admin):
        module.register(account)
    return web, account


__all__ = ["blueprints"]
