"""Browser sessions: Flask-Login on Flask's signed session cookie, a server-side record of
each sign-in, plus timeouts.

The session holds Flask-Login's ``_user_id`` = ``"<user id>:<session epoch>"`` (see
:meth:`User.get_id`), ``_sg_sid`` (a random session id, 256 bits; the server keeps only its
SHA-256 in a :class:`~lifecycle.accounts.models.LoginSession` row), ``_sg_login`` (when the
user signed in) and ``_sg_seen`` (the last request), both Unix seconds of the app clock
(:func:`lifecycle.core.clock.clock`).  Before each web request :func:`check` ends the session
when

- its server-side record is ended (sign-out in this browser: :func:`end`; "log out
  everywhere", a password change or deactivation end every record of the user) or missing
  (a cookie that never came from a sign-in) — so a cookie replayed after sign-out is
  signed out, even though its signature is still valid;

- it was idle longer than ``SESSION_IDLE_MINUTES`` (default 30), or
- it is older than ``SESSION_ABSOLUTE_MINUTES`` (default 720), or
- the user's epoch moved ("log out everywhere", deactivation, password change), or the
  user is inactive — then the user loader finds no user.

Between the password and the second factor only ``_sg_pending`` is set (user id, epoch,
time; valid ``PENDING_SECONDS``) — the user is not signed in yet.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, request, session
from flask_login import current_user, login_user, logout_user

from lifecycle.accounts.models import LoginSession, User
from lifecycle.core.clock import clock
from lifecycle.core.extensions import db

LOGIN_AT = "_sg_login"
SEEN_AT = "_sg_seen"
PENDING = "_sg_pending"
SID = "_sg_sid"
PENDING_SECONDS = 300


def _now() -> int:
    return int(clock().timestamp())


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: ``"<id>:<epoch>"`` → the active user whose epoch still
    matches, else ``None``."""
    ident, _, epoch = str(user_id).partition(":")
    if not ident.isdigit() or not epoch.isdigit():
        return None
    user = db.session.get(User, int(ident))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def _open_record(user: User) -> str:
    """Store a new server-side session of ``user`` (committed); its id (only the SHA-256 is
    stored)."""
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, sid_hash=_sid_hash(sid), created_at=clock()))
    db.session.commit()
    return sid


def session_data(user: User, now: int | None = None) -> dict[str, Any]:
    """The session members of a signed-in ``user`` with a new server-side session record
    (what :func:`start` writes; tests use it to sign a test client in)."""
    moment = _now() if now is None else now
    return {"_user_id": user.get_id(), "_fresh": True, SID: _open_record(user),
            LOGIN_AT: moment, SEEN_AT: moment}


def start(user: User) -> None:
    """Sign ``user`` in: a new session (nothing from before survives) with a new server-side
    record, then Flask-Login."""
    _end_record()
    session.clear()
    login_user(user, remember=False)
    moment = _now()
    session[SID] = _open_record(user)
    session[LOGIN_AT] = moment
    session[SEEN_AT] = moment


def _end_record() -> None:
    """End this browser's server-side session record, if it has one (committed)."""
    sid = session.get(SID)
    if not isinstance(sid, str):
        return
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.sid_hash == _sid_hash(sid), LoginSession.ended_at.is_(None))
        .values(ended_at=clock()).execution_options(synchronize_session=False))
    db.session.commit()


def end() -> None:
    """Sign out of this browser: its server-side record ends, so the cookie is dead even when
    replayed."""
    _end_record()
    logout_user()
    session.clear()


def _record_open(user_id: int) -> bool:
    """This browser's session id names an open server-side session of ``user_id``."""
    sid = session.get(SID)
    if not isinstance(sid, str):
        return False
    found = db.session.execute(
        sa.select(LoginSession.id).where(LoginSession.sid_hash == _sid_hash(sid),
                                         LoginSession.user_id == user_id,
                                         LoginSession.ended_at.is_(None))
    ).first()
    return found is not None


def begin_pending(user: User) -> None:
    """Password accepted; the second factor is still due."""
    session.clear()
    session[PENDING] = {"uid": user.id, "epoch": user.session_epoch, "at": _now()}


def pending_user() -> User | None:
    """The user between password and second factor (within ``PENDING_SECONDS``), or
    ``None``."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if not isinstance(pending.get("at"), int) or _now() - pending["at"] > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    uid, epoch = pending.get("uid"), pending.get("epoch")
    return load_user(f"{uid}:{epoch}")


def _minutes(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) * 60


def check() -> None:
    """Before each web request: end an idle, too old or revoked session; else note the
    request time."""
    if request.endpoint == "static" or request.path.startswith("/api/"):
        return
    if "_user_id" not in session:
        return
    if not current_user.is_authenticated or not _record_open(current_user.id):
        # epoch moved, user gone or inactive, or the session was signed out on the server
        end()
        flash("You were signed out. Sign in again.", "info")
        return
    now = _now()
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if not isinstance(login_at, int) or not isinstance(seen_at, int):
        end()
        return
    if now - seen_at > _minutes("SESSION_IDLE_MINUTES", 30) or \
            now - login_at > _minutes("SESSION_ABSOLUTE_MINUTES", 720):
        end()
        flash("Your session expired. Sign in again.", "info")
        return
    if now != seen_at:
        session[SEEN_AT] = now
