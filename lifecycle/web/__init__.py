"""The htmx web UI (blueprints ``web`` and ``accounts``).

Server-rendered pages; htmx swaps fragments of them.  Every page works as plain HTML forms
with JavaScript off (post-redirect-get with 303).  Views only parse forms, call one service
function and choose what to render.

- :mod:`.views` (board, API and version pages, rule catalog), :mod:`.evidence` (keys, JWKS,
  sample tokens) and :mod:`.approvals` (promotion requests, waivers) hold the views of
  blueprint ``web``;
- :mod:`.accounts` (sign-in, second factor, own tokens) and :mod:`.admin` (users, teams) hold
  those of blueprint ``accounts``.

``create_app`` registers :data:`bp` and :data:`accounts_bp`.
"""

from lifecycle.web import accounts, admin, approvals, evidence, views

#: blueprint ``web``: the views of :mod:`.views`, :mod:`.evidence` and :mod:`.approvals`
bp = views.bp
#: blueprint ``accounts``: the views of :mod:`.accounts` and :mod:`.admin`
accounts_bp = accounts.bp

__all__ = ["accounts", "accounts_bp", "admin", "approvals", "bp", "evidence", "views"]
