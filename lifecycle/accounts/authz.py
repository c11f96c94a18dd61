"""Roles, permissions, and the one server-side check every request passes through.

Roles (a user has a set of them; every signed-in user may read):

=============  ================================================================================
``viewer``     reads everything
``developer``  changes the APIs of their teams (versions, documents, keys, evidence, demotion,
               retirement) and promotes them up to ``testing``; creates APIs for their teams
``approver``   promotes to / approves promotions to ``deployment``, grants waivers, reads the
               audit trail
``admin``      manages users, teams and policy packs; reads the audit trail; may change any
               API (an admin can join any team anyway) but does not approve
=============  ================================================================================

Each view declares what it needs, either with the decorator::

    @requires("approve", stage="deployment")
    def approve(name, version): ...

    # and in the module's register(bp):
    bp.add_url_rule(".../approve", view_func=approve, methods=["POST"])

or, for views defined elsewhere, with an entry in :data:`ENDPOINTS` (endpoint → requirement).
:func:`enforce` runs before every request (registered by :func:`init_app`) and

1. lets ``public`` endpoints through;
2. authenticates: the REST API (``/api/``) only with a bearer access token
   (:mod:`lifecycle.accounts.apitokens`; never the session cookie, so the CSRF-exempt API cannot be
   driven by another site), the web UI only with the session (Flask-Login);
3. answers anonymous callers: web → redirect to the login page (htmx: ``HX-Redirect``);
   API → 401 with ``WWW-Authenticate: Bearer realm="stagegate"``;
4. sends approvers and admins without a second factor to the enrolment page (403 on the
   API) — they may do nothing else first; then sends a user whose password an admin reset
   to the account page until they choose a new one (:data:`PASSWORD_CHANGE_ENDPOINTS` only;
   their access tokens are refused meanwhile);
5. checks the permission for the API named in the URL (``<name>``), the target stage and
   team the requirement reads from the request; refuses with 403.

An endpoint with no declared requirement is treated as ``admin`` (fail closed) and logged;
``tests/integration/test_authz_matrix.py`` fails for every such route.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from blinker import Namespace
from flask import Flask, current_app, g, redirect, request, url_for
from flask_htmx.responses import HTMXResponseClientRedirect
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from lifecycle.accounts import apitokens
from lifecycle.accounts.roles import ROLES, needs_enrolment, roles_of
from lifecycle.core.actor import Actor, ActorKind
from lifecycle.core.errors import Forbidden
from lifecycle.core.extensions import htmx

#: key of the API lookup in ``app.extensions`` (see :func:`init_app`)
API_LOOKUP = "stagegate.find_api"
#: the stage whose entry needs an approver
APPROVAL_STAGE = "deployment"

#: every permission name :func:`can` knows
PERMISSIONS: tuple[str, ...] = (
    "public",      # anyone, signed in or not
    "login",       # any signed-in user (own account, own tokens, logout)
    "read",        # any signed-in user: boards, pages, GET endpoints
    "api.create",  # register an API for a team (developer of that team, admin)
    "api.change",  # change an API of one's team (developer of its team, admin)
    "transition",  # move a version to ``stage`` (deployment: approver; else as api.change)
    "approve",     # approve a promotion to deployment (approver)
    "waive",       # grant a waiver (approver)
    "audit.read",  # read and export the audit trail (approver, admin)
    "admin",       # users, teams, memberships, policy packs (admin)
)

#: sent (sender: the app; ``endpoint``, ``reason``: ``anonymous``, ``enrolment`` or
#: ``forbidden``) whenever :func:`enforce` refuses a request — for logs, metrics and tests
access_denied = Namespace().signal("stagegate-access-denied")

F = TypeVar("F", bound=Callable[..., Any])
Source = str | Callable[[], str | None] | None


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a view needs: a ``permission``; for ``transition`` the target ``stage`` and for
    ``api.create`` the ``team`` (a value, or a callable reading it from the request);
    ``before_enrolment``: allowed while a required second factor is not enrolled yet."""

    permission: str
    stage: Source = None
    team: Source = None
    before_enrolment: bool = False

    def __post_init__(self) -> None:
        if self.permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {self.permission!r}")

    @staticmethod
    def _value(source: Source) -> str | None:
        value = source() if callable(source) else source
        return value if isinstance(value, str) and value else None

    def target_stage(self) -> str | None:
        """The stage this request moves to, if the requirement names one."""
        return self._value(self.stage)

    def target_team(self) -> str | None:
        """The team this request names, if the requirement reads one."""
        return self._value(self.team)


def requires(permission: str, *, stage: Source = None, team: Source = None,
             before_enrolment: bool = False) -> Callable[[F], F]:
    """Declare a view's requirement (see the module docstring); the view itself is unchanged.

    :param stage: for ``transition``/``approve``: the target stage or a callable returning it.
    :param team: for ``api.create``: the team name or a callable returning it.
    :raises ValueError: unknown permission.
    """
    requirement = Requirement(permission, stage, team, before_enrolment)

    def mark(view: F) -> F:
        view.__stagegate_requirement__ = requirement  # type: ignore[attr-defined]
        return view

    return mark


# ------------------------------------------------------------------ request readers
def from_json(key: str) -> Callable[[], str | None]:
    """A source reading ``key`` of the JSON body (``None`` when absent or not a string).

    The body is read strictly, as the view will read it: an unreadable one (duplicate
    members, ``NaN``, too deep, not JSON) answers 400 ``bad_request`` before any permission
    is judged, never a misleading 403 about the missing ``key``.
    """

    def read() -> str | None:
        body = request.get_json() if request.is_json else None
        value = body.get(key) if isinstance(body, dict) else None
        return value.strip() if isinstance(value, str) else None

    return read


def from_form(key: str) -> Callable[[], str | None]:
    """A source reading form field ``key``."""

    def read() -> str | None:
        value = request.form.get(key)
        return value.strip() if isinstance(value, str) else None

    return read


# ------------------------------------------------------------------ the table
_PUBLIC = Requirement("public")
_READ = Requirement("read")
_CHANGE = Requirement("api.change")

#: requirements of views that are not decorated (endpoint → requirement).  When a new
#: blueprint lands, add its endpoints here (or decorate its views with :func:`requires`).
ENDPOINTS: dict[str, Requirement] = {
    "static": _PUBLIC,
    # web UI (lifecycle/web/views.py)
    "web.board": _READ,
    "web.rules": _READ,
    "web.api_page": _READ,
    "web.version_page": _READ,
    "web.create_api": Requirement("api.create", team=from_form("team")),
    "web.create_version": Requirement("api.change"),  # the API is read from the form
    "web.create_api_version": _CHANGE,
    "web.upload": _CHANGE,
    "web.promote": Requirement("transition", stage=from_form("promote-to")),
    "web.demote": Requirement("transition", stage=from_form("demote-to")),
    "web.retire": Requirement("transition", stage="retirement"),
    # REST API (lifecycle/api/views.py, lifecycle/api/evidence.py)
    "api.list_apis": _READ,
    "api.list_versions": _READ,
    "api.get_api": _READ,
    "api.get_version": _READ,
    "api.compliance": _READ,
    "api.history": _READ,
    "api.create_api": Requirement("api.create", team=from_json("team")),
    "api.create_version": _CHANGE,
    "api.put_spec": _CHANGE,
    "api.create_transition": Requirement("transition", stage=from_json("to")),
    "api.version_jwks": _PUBLIC,  # public encryption keys token issuers encrypt to
    "api.openapi_json": _PUBLIC,  # the REST contract (lifecycle/api/contract.py)
    "api.list_keys": _READ,
    "api.generate_key": _CHANGE,
    "api.rotate_key": _CHANGE,
    "api.put_jwks": _CHANGE,
    "api.get_jwks": _READ,
    "api.post_token": _CHANGE,
    "api.list_tokens": _READ,
    # jobs (lifecycle/api/jobs.py, lifecycle/web/jobs.py): every signed-in user may read every
    # API, so the job's creator and anyone who may read its subject is ``read``
    "api.get_job": _READ,
    "web.job_status": _READ,
    # evidence forms of the web UI (lifecycle/web/evidence.py)
    "web.generate_key": _CHANGE,
    "web.rotate_key": _CHANGE,
    "web.submit_jwks": _CHANGE,
    "web.analyse_token": _CHANGE,
}

#: the only pages a user whose password was reset by an admin may use until they change it
PASSWORD_CHANGE_ENDPOINTS = frozenset({
    "accounts.account", "accounts.change_password", "accounts.logout",
    "accounts.totp_enrol", "accounts.totp_renew",
})

#: what an endpoint without a declared requirement needs (fail closed)
UNDECLARED = Requirement("admin")


def requirement_for(endpoint: str, view: Callable[..., Any] | None = None) -> Requirement | None:
    """The declared requirement of ``endpoint`` (decorator first, then :data:`ENDPOINTS`),
    or ``None`` when nothing is declared."""
    declared = getattr(view, "__stagegate_requirement__", None) if view else None
    return declared if isinstance(declared, Requirement) else ENDPOINTS.get(endpoint)


# ------------------------------------------------------------------ decisions
def _team_member(user: Any, api: Any) -> bool:
    return api is not None and api.team_id is not None and api.team_id in user.team_ids


def can(user: Any, permission: str, *, api: Any = None, stage: str | None = None,  # noqa: PLR0911 - one return per permission rule
        team: str | None = None) -> bool:
    """Whether ``user`` holds ``permission`` (pure: no request needed).

    :param api: the :class:`~lifecycle.catalog.models.Api` acted on (``api.change``,
        ``transition``);
        ``None`` when the URL names no existing API (the view then answers 404).
    :param stage: target stage of a ``transition``.
    :param team: team name for ``api.create``.
    """
    if permission == "public":
        return True
    if user is None or not getattr(user, "is_authenticated", False) or \
            not getattr(user, "is_active", False):
        return False
    roles = roles_of(user)
    if permission in ("login", "read"):
        return True
    if permission in ("approve", "waive"):
        return "approver" in roles
    if permission == "audit.read":
        return bool(roles & {"approver", "admin"})
    if permission == "admin":
        return "admin" in roles
    if permission == "api.create":
        if "admin" in roles:
            return True
        return "developer" in roles and team is not None and \
            team in {t.name for t in user.teams}
    if permission == "transition" and stage == APPROVAL_STAGE:
        return "approver" in roles
    if permission in ("api.change", "transition"):
        if "admin" in roles:
            return True
        return "developer" in roles and (api is None or _team_member(user, api))
    return False


def actor() -> str:
    """Who acts in the current request, for logs and comparisons: the signed-in user's email,
    else ``anonymous``.  Services get :func:`current_actor`."""
    user = current_user
    if user and getattr(user, "is_authenticated", False):
        return str(user.email)
    return "anonymous"


def current_actor() -> Actor:
    """The typed actor of the current request: the session user (web, kind ``user``) or the
    user behind the bearer token (REST, kind ``token``).

    :raises Forbidden: nobody is signed in (only ``public`` endpoints run anonymously, and
        they change nothing).
    """
    user = current_user
    if not user or not getattr(user, "is_authenticated", False):
        raise Forbidden("Sign in first.")
    return Actor.of_user(user, kind=ActorKind.TOKEN if _is_api() else ActorKind.USER)


def can_here(permission: str, *, api: Any = None, stage: str | None = None,
             team: str | None = None) -> bool:
    """:func:`can` for the current user (the template helper ``can(...)``)."""
    # the user itself, not the proxy: ``can`` reads several attributes, each a proxy lookup
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    return can(user, permission, api=api, stage=stage, team=team)


# ------------------------------------------------------------------ enforcement
def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _api_in_url() -> Any:
    """The Api named by the URL's ``<name>``, or by the ``api`` form field of the board's
    new-version form; ``None`` if none is named or it does not exist (looked up with the
    ``find_api`` the composition gave :func:`init_app`)."""
    args = request.view_args or {}
    name = args.get("name")
    if name is None and request.endpoint == "web.create_version":
        name = request.form.get("api")
    if not isinstance(name, str):
        return None
    find_api: Callable[[str], Any] = current_app.extensions[API_LOOKUP]
    return find_api(name)


def _web_redirect(endpoint: str, **values: Any) -> BaseResponse:
    target = url_for(endpoint, **values)
    if htmx:
        return HTMXResponseClientRedirect(target)  # type: ignore[return-value]
    return redirect(target, 303 if request.method != "GET" else 302)


def refusal_message(user: Any, requirement: Requirement) -> str:
    """Why ``user`` was refused ``requirement``, in words that say what to do instead.

    For ``api.create`` it names the user's teams (e.g. ``"You are not a member of team X.
    Name a team you belong to: A, B."``); otherwise the generic sentence.
    """
    if requirement.permission != "api.create":
        return "You are not allowed to do this."
    if "developer" not in roles_of(user):
        return "Only developers of a team and admins may register APIs."
    teams = sorted(t.name for t in user.teams)
    team = requirement.target_team()
    asked = f"You are not a member of team {team}. " if team else "No owning team named. "
    if not teams:
        return asked + "You belong to no team yet; ask an admin to add you to one."
    return asked + "Name a team you belong to: " + ", ".join(teams) + "."


#: endpoint → callable(message) answering a refused request itself (a web form shows the
#: reason on its field instead of a bare error page); see :func:`on_refusal`
REFUSAL_VIEWS: dict[str, Callable[[str], Any]] = {}


def on_refusal(endpoint: str) -> Callable[[F], F]:
    """Register ``handler(message)`` to answer refused requests to ``endpoint`` (it must
    answer 403; the view itself still never runs)."""

    def mark(handler: F) -> F:
        REFUSAL_VIEWS[endpoint] = handler
        return handler

    return mark


def _forbidden(message: str = "You are not allowed to do this.") -> Any:
    """Refuse the request: :class:`~lifecycle.core.errors.Forbidden`, answered 403 by the
    entrypoint's error handler."""
    current_app.logger.info("authz: %s refused %s %s", actor(), request.method, request.path)
    raise Forbidden(message)


def enforce() -> Any:
    """The before-request check (see the module docstring); ``None`` lets the view run."""
    endpoint = request.endpoint
    if endpoint is None:  # 404/405: nothing runs
        return None
    view = current_app.view_functions.get(endpoint)
    requirement = requirement_for(endpoint, view)
    if requirement is None:
        current_app.logger.warning("authz: no requirement declared for endpoint %s; "
                                   "only admins may use it", endpoint)
        requirement = UNDECLARED
    if requirement.permission == "public":
        return None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _is_api():

        try:
            user = apitokens.authenticate_bearer()
        except apitokens.InvalidBearer:
            access_denied.send(app, endpoint=endpoint, reason="anonymous")
            raise  # answered 401 by apitokens.unauthorized
        g._login_user = user  # Flask-Login's current_user for this request only
    else:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
        if not user.is_authenticated:
            access_denied.send(app, endpoint=endpoint, reason="anonymous")
            next_path = request.full_path.rstrip("?") if request.method == "GET" else None
            return _web_redirect("accounts.login", next=next_path)
    if needs_enrolment(user) and not requirement.before_enrolment:
        access_denied.send(app, endpoint=endpoint, reason="enrolment")
        if _is_api():
            return _forbidden()
        return _web_redirect("accounts.totp_enrol")
    if getattr(user, "must_change_password", False) and \
            endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        access_denied.send(app, endpoint=endpoint, reason="password_change")
        if _is_api():
            return _forbidden("Choose a new password on the account page first.")
        return _web_redirect("accounts.account")
    api = _api_in_url() if requirement.permission in ("api.change", "transition") else None
    if not can(user, requirement.permission, api=api, stage=requirement.target_stage(),
               team=requirement.target_team()):
        access_denied.send(app, endpoint=endpoint, reason="forbidden")
        message = refusal_message(user, requirement)
        handler = None if _is_api() else REFUSAL_VIEWS.get(endpoint)
        return handler(message) if handler else _forbidden(message)
    return None


def _must_enrol_here() -> bool:
    """The current user must set up a second factor before anything else (templates then
    offer no navigation but signing out)."""
    return needs_enrolment(current_user)


def init_app(app: Flask, find_api: Callable[[str], Any]) -> None:
    """Run :func:`enforce` before every request and offer ``can(...)``, ``roles`` and
    ``must_enrol()`` to templates.

    :param find_api: API name → the Api (or ``None``): the team-ownership checks read its
        ``team_id`` (given by the composition, so accounts need not import the catalog).
    """
    app.extensions[API_LOOKUP] = find_api
    app.before_request(enforce)

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        return {"can": can_here, "roles": ROLES, "must_enrol": _must_enrol_here}


def undeclared_endpoints(app: Flask, ignore: Iterable[str] = ()) -> list[str]:
    """Endpoints of ``app`` without a declared requirement (for tests and the lead)."""
    skip = set(ignore)
    return sorted(e for e, view in app.view_functions.items()
                  if e not in skip and requirement_for(e, view) is None)
