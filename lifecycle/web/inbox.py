"""The inbox (``GET /inbox``): the promotion requests waiting for the signed-in approver
(four eyes: never their own, never one they decided) and the requests the signed-in user
made, with their state and the stored gate status; and the navigation's count of what waits
for an approver (one ``COUNT`` per full page, only for approvers).

Reads only; deciding happens in the version page's Approval panel
(:mod:`lifecycle.web.approvals`), which each row links to.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template
from flask_login import current_user

from lifecycle.accounts import authz
from lifecycle.review import inbox
from lifecycle.web import presenters
from lifecycle.web.version_page import Page

#: ``flask.g`` key of the navigation's count (computed once per request)
_COUNT_KEY = "stagegate_inbox_count"


def awaiting_count() -> int:
    """How many pending requests the signed-in user may decide (0 for anyone who does not
    hold ``approve``; no query then).  Computed at most once per request."""
    if not getattr(current_user, "is_authenticated", False) or \
            not authz.can(current_user, "approve"):
        return 0
    if _COUNT_KEY not in g:
        setattr(g, _COUNT_KEY, inbox.awaiting_count(authz.actor()))
    return int(getattr(g, _COUNT_KEY))


def _helpers() -> dict[str, Any]:
    """Template helpers: ``inbox_count()`` (lazy: a page that does not call it runs no
    query) and ``what_blocks(failing_rules, missing_kinds, findings)``."""
    return {"inbox_count": awaiting_count, "what_blocks": presenters.what_blocks}


@authz.requires("read")
def inbox_page() -> Page:
    """What waits for me: pending requests I may decide (approvers) and my own requests."""
    me = authz.actor()
    approver = authz.can(current_user, "approve")
    waiting = inbox.awaiting(me) if approver else []
    if approver:
        setattr(g, _COUNT_KEY, len(waiting) if len(waiting) < inbox.MAX_LISTED
                else inbox.awaiting_count(me))
    return render_template(
        "web/inbox.html",
        approver=approver,
        waiting=waiting,
        waiting_total=awaiting_count(),
        mine=inbox.requested_by(me),
        may_request=approver or "developer" in getattr(current_user, "roles", ())
        or authz.can(current_user, "admin"),
        max_listed=inbox.MAX_LISTED,
    )


def register(bp: Blueprint) -> None:
    """Add this module's view and template helpers to ``bp``."""
    bp.app_context_processor(_helpers)
    bp.add_url_rule("/inbox", endpoint="inbox", view_func=inbox_page, methods=["GET"])
