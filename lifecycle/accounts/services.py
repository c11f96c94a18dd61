"""Account services: users, passwords, roles, teams, memberships, second factor.

Each changing function is one unit of work (one commit) and records an audit entry through
:func:`audit_hook`.  Errors are the domain errors of :mod:`lifecycle.catalog.services`
(``NotFound``, ``Conflict``, ``ValidationFailed``).

Passwords: argon2id (``argon2-cffi``'s RFC 9106 defaults), 12–1024 characters.
:func:`authenticate` always verifies one hash — a fixed dummy hash when the email is unknown
— so an unknown email and a wrong password take the same time and give the same answer.

Second factor: TOTP (RFC 6238, 30-second steps, 6 digits, ±1 step) with ``pyotp``; the
secret is sealed under the key-encryption key (:mod:`lifecycle.core.crypto_store`) with the user
id as associated data; a step once used is never accepted again (``totp_last_step``).  Ten
recovery codes (80 bits each) are shown once and stored as SHA-256.  A secret being set up
(:func:`pending_totp_secret`) is kept sealed on the user row too, under other associated data,
until a code confirms it — it never reaches the session cookie, reloading the set-up page shows
the same secret, and it can never be used to sign in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyotp
import qrcode
import qrcode.image.svg
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.exc import IntegrityError

from lifecycle import audit
from lifecycle.accounts.models import (
    MAX_EMAIL,
    MAX_TEAM_NAME,
    LoginSession,
    Membership,
    PersonalAccessToken,
    RecoveryCode,
    Team,
    User,
)
from lifecycle.accounts.roles import ROLES
from lifecycle.core import crypto_store
from lifecycle.core.clock import clock
from lifecycle.core.errors import Conflict, KeyStoreUnavailable, NotFound, ValidationFailed
from lifecycle.core.extensions import db

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
RECOVERY_CODES = 10
TOTP_STEP = 30
#: what a user may be given by an admin or the CLI (someone acting on accounts)
Who = User | str

_hasher = PasswordHasher()
_dummy_hash: str | None = None


# ------------------------------------------------------------------ audit
def audit_hook(action: str, actor: str, subject: str, data: dict[str, Any] | None = None) -> None:
    """Queue an audit entry with :func:`lifecycle.audit.record` (appended at the next
    commit)."""
    audit.record(action, actor, subject[:255], data or {})


# ------------------------------------------------------------------ passwords
def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string)."""
    return _hasher.hash(password)


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
    return _dummy_hash


def password_problem(password: str | None) -> str | None:
    """Why ``password`` is not acceptable, or ``None``."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    return None


def normalise_email(email: str | None) -> str:
    """Trimmed, lower-case email."""
    return (email or "").strip().lower()


def email_problem(address: str) -> str | None:
    """Why the normalised ``address`` is not an email address we accept, or ``None``.

    Checked with ``email-validator`` (RFC 5321/5322 syntax, IDNA domains; no DNS lookup:
    a self-hosted Stagegate often has no resolver for its users' domains).  Internal
    domains (``corp.internal``) and the ``.test`` domain (RFC 6761) are accepted; other
    special-use names such as ``.local`` and ``localhost`` are not.  At most
    :data:`MAX_EMAIL` characters (every ``actor`` column holds 100).
    """
    limit = f"Give an email address of at most {MAX_EMAIL} characters."
    if not address or len(address) > MAX_EMAIL:
        return limit
    try:
        checked = validate_email(address, check_deliverability=False,
                                 globally_deliverable=False, test_environment=True,
                                 allow_display_name=False, allow_quoted_local=False,
                                 allow_domain_literal=False)
    except EmailNotValidError as exc:
        return f"This is not an email address: {exc}"
    if checked.normalized.lower() != address or "." not in checked.domain:
        return "This is not an email address: give name@domain.example."
    return None


def _who(actor: Who) -> str:
    return actor.email if isinstance(actor, User) else str(actor)


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else ``None`` (same work either way:
    an unknown email is checked against a dummy hash)."""
    address = normalise_email(email)
    user = user_by_email(address) if address and len(address) <= MAX_EMAIL else None
    stored = user.password_hash if user is not None else _dummy()
    ok: bool
    try:
        ok = _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# ------------------------------------------------------------------ reads
def user_by_email(email: str) -> User | None:
    """The user with this (normalised) email, or ``None``."""
    address = normalise_email(email)
    return db.session.execute(db.select(User).where(User.email == address)).scalar_one_or_none()


def get_user(user_id: int) -> User:
    """:raises NotFound:"""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def list_users() -> list[User]:
    """Every user by email."""
    return list(db.session.execute(db.select(User).order_by(User.email)).scalars())


def get_team(team_id: int) -> Team:
    """:raises NotFound:"""
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


def list_teams() -> list[Team]:
    """Every team by name."""
    return list(db.session.execute(db.select(Team).order_by(Team.name)).scalars())


# ------------------------------------------------------------------ users
def _roles(roles: Iterable[str]) -> list[str]:
    chosen = [r for r in ROLES if r in set(roles)]
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValidationFailed({"roles": f"Unknown role(s): {', '.join(sorted(unknown))}."})
    return chosen


def create_user(email: str, password: str, roles: Iterable[str], *, actor: str,
                active: bool = True) -> User:
    """Create a user.

    :param roles: a subset of :data:`lifecycle.accounts.authz.ROLES` (may be empty: a reader).
    :raises ValidationFailed: bad email, password or role.
    :raises Conflict: the email is taken.
    """
    address = normalise_email(email)
    errors = {}
    if (bad := email_problem(address)) is not None:
        errors["email"] = bad
    if (problem := password_problem(password)) is not None:
        errors["password"] = problem
    if errors:
        raise ValidationFailed(errors)
    chosen = _roles(roles)
    if user_by_email(address) is not None:
        raise Conflict("A user with this email exists already.")
    user = User(email=address, password_hash=hash_password(password), roles=chosen,
                active=active, session_epoch=0, created_at=clock())
    db.session.add(user)
    audit_hook("user.created", actor, f"user:{address}", {"roles": chosen, "active": active})
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("A user with this email exists already.") from exc
    return user


def _guard_self(user: User, actor_user: User | None, what: str) -> None:
    if actor_user is not None and actor_user.id == user.id:
        raise Conflict(f"You cannot {what} yourself; ask another admin.")


def set_roles(user_id: int, roles: Iterable[str], *, actor: User) -> User:
    """Replace a user's roles.  An admin cannot remove their own ``admin`` role.

    :raises NotFound: no such user.  :raises ValidationFailed: unknown role.
    :raises Conflict: an admin removing their own admin role.
    """
    user = get_user(user_id)
    chosen = _roles(roles)
    if "admin" in user.roles and "admin" not in chosen:
        _guard_self(user, actor, "remove the admin role from")
    before = list(user.roles)
    user.roles = chosen
    audit_hook("user.roles_changed", actor.email, f"user:{user.email}",
               {"before": before, "after": chosen})
    db.session.commit()
    return user


def _end_sessions(user: User) -> None:
    """End every browser session of ``user`` (in the caller's transaction): the session
    epoch moves and every server-side session record is ended."""
    user.session_epoch += 1
    db.session.execute(
        sa.update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock()).execution_options(synchronize_session=False))


def set_active(user_id: int, active: bool, *, actor: Who,
               now: datetime | None = None) -> User:
    """Activate or deactivate a user.  Deactivating ends every session of theirs (the
    session epoch moves), kills every access token already issued (the token epoch moves,
    so they stay dead after a reactivation) and revokes their personal access tokens (an
    offboarded person's credentials do not come back with the account).

    :param actor: the admin (a :class:`User`) or ``"cli"``.
    :raises Conflict: an admin deactivating themselves.
    """
    user = get_user(user_id)
    if not active:
        _guard_self(user, actor if isinstance(actor, User) else None, "deactivate")
    if user.active != active:
        user.active = active
        _end_sessions(user)
        revoked = 0
        if not active:
            user.token_epoch += 1
            revoked = db.session.execute(
                sa.update(PersonalAccessToken)
                .where(PersonalAccessToken.user_id == user.id,
                       PersonalAccessToken.revoked_at.is_(None))
                .values(revoked_at=now or clock())
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        audit_hook("user.activated" if active else "user.deactivated", _who(actor),
                   f"user:{user.email}", {} if active else {"tokens_revoked": revoked})
        db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password (ends the other sessions: the epoch moves).

    :raises ValidationFailed: the current password is wrong or the new one too short.
    """
    ok: bool
    try:
        ok = _hasher.verify(user.password_hash, current or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise ValidationFailed({"current": "This is not your current password."})
    if (problem := password_problem(new)) is not None:
        raise ValidationFailed({"new": problem})
    if new == current:
        raise ValidationFailed({"new": "Choose a password different from the current one."})
    user.password_hash = hash_password(new)
    _end_sessions(user)
    user.token_epoch += 1
    user.must_change_password = False
    audit_hook("user.password_changed", user.email, f"user:{user.email}", {})
    db.session.commit()


def reset_password(user_id: int, new: str, *, actor: Who, temporary: bool = True) -> User:
    """An admin (or the operator's CLI) sets another user's password.

    Every session and access token of the user ends (both epochs move); their personal
    access tokens stay (revoke them, or deactivate the user, if the account is
    compromised).  With ``temporary`` (the default) the user must choose a new password at
    their next sign-in: every page and the token exchange refuse until they do.

    :raises NotFound: no such user.  :raises ValidationFailed: ``{"password": ...}``.
    :raises Conflict: an admin resetting their own password (use the account page).
    """
    user = get_user(user_id)
    _guard_self(user, actor if isinstance(actor, User) else None, "reset the password of")
    if (problem := password_problem(new)) is not None:
        raise ValidationFailed({"password": problem})
    user.password_hash = hash_password(new)
    _end_sessions(user)
    user.token_epoch += 1
    user.must_change_password = temporary
    audit_hook("user.password_reset", _who(actor), f"user:{user.email}",
               {"must_change": temporary})
    db.session.commit()
    return user


def logout_everywhere(user: User) -> None:
    """End every session of ``user`` (all browsers): the session epoch moves."""
    _end_sessions(user)
    audit_hook("user.logout_everywhere", user.email, f"user:{user.email}", {})
    db.session.commit()


def record_login(user: User, now: datetime, *, second_factor: str | None) -> None:
    """Note a successful sign-in (time, audit entry) and commit."""
    user.last_login_at = now
    audit_hook("user.login", user.email, f"user:{user.email}",
               {"second_factor": second_factor})
    db.session.commit()


def login_subject(email: str | None) -> str:
    """The audit subject of a refused sign-in for the text typed as the email.

    ``user:<email>`` when it is the email of an existing account; otherwise
    ``login:<hmac>`` — the first 16 hex digits (64 bits) of HMAC-SHA256 keyed with the
    app's ``SECRET_KEY`` over the normalised text.  Typed text that names no account (a
    mistyped address, or a password typed into the email field) never enters the permanent
    audit log; an admin who suspects a particular value can compute its subject with
    :func:`login_subject` in ``stagegate shell`` and search for it.  ``docs/audit.md``.
    """
    address = normalise_email(email)
    if address and len(address) <= MAX_EMAIL and user_by_email(address) is not None:
        return f"user:{address}"
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, b"stagegate-login:" + address.encode("utf-8", "surrogatepass"),
                      hashlib.sha256).hexdigest()[:16]
    return f"login:{digest}"


def record_failed_login(email: str, stage: str) -> None:
    """Audit a refused sign-in (``stage``: ``password`` or ``second_factor``) and commit.
    The subject is :func:`login_subject` (the account's email, or a keyed hash of text that
    names no account); the password is never recorded."""
    audit_hook("user.login_failed", "anonymous", login_subject(email), {"stage": stage})
    db.session.commit()


# ------------------------------------------------------------------ teams
def team_by_name(name: str) -> Team | None:
    """The team called ``name`` (exact, trimmed), or ``None``."""
    return db.session.execute(db.select(Team).where(
        Team.name == (name or "").strip())).scalar_one_or_none()


def create_team(name: str, *, actor: Who) -> Team:
    """:raises ValidationFailed: empty or too long.  :raises Conflict: name taken."""
    name = (name or "").strip()
    if not name or len(name) > MAX_TEAM_NAME:
        raise ValidationFailed({"name": f"Use 1–{MAX_TEAM_NAME} characters."})
    if db.session.execute(db.select(Team.id).where(Team.name == name)).first():
        raise Conflict("A team with this name exists already.")
    team = Team(name=name, created_at=clock())
    db.session.add(team)
    audit_hook("team.created", _who(actor), f"team:{name}", {})
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict("A team with this name exists already.") from exc
    return team


def add_member(team_id: int, user_id: int, *, actor: Who) -> None:
    """Add a user to a team (idempotent).  :raises NotFound:"""
    team, user = get_team(team_id), get_user(user_id)
    if user_id in {m.user_id for m in team.memberships}:
        return
    db.session.add(Membership(team=team, user=user, created_at=clock()))
    audit_hook("team.member_added", _who(actor), f"team:{team.name}", {"user": user.email})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def remove_member(team_id: int, user_id: int, *, actor: User) -> None:
    """Remove a user from a team (idempotent).  :raises NotFound:"""
    team, user = get_team(team_id), get_user(user_id)
    changed = db.session.execute(sa.delete(Membership).where(
        Membership.team_id == team.id, Membership.user_id == user.id))
    if changed.rowcount:  # type: ignore[attr-defined]
        audit_hook("team.member_removed", actor.email, f"team:{team.name}",
                   {"user": user.email})
    db.session.commit()
    db.session.expire(team)
    db.session.expire(user)


# ------------------------------------------------------------------ second factor
def _aad(user: User) -> bytes:
    return f"stagegate-totp:{user.id}".encode()


def _kek() -> bytes:
    try:
        return crypto_store.current_kek()
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Second factors are unavailable: {exc.message}") from None


def _pending_aad(user: User) -> bytes:
    return f"stagegate-totp-pending:{user.id}".encode()


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits, RFC 4226 §4)."""
    return pyotp.random_base32(32)


def pending_totp_secret(user: User, *, renew: bool = False) -> str:
    """The base32 secret ``user`` is setting up (not confirmed yet).

    Made on first use and kept sealed on the user row (``totp_sealed`` while
    ``totp_last_step`` is null; associated data ``stagegate-totp-pending:<id>``, so it never
    opens as an enrolled secret), so every load of the set-up page — in any browser — shows
    the same secret until :func:`confirm_totp` confirms it.  ``renew`` replaces it (the
    set-up page's "new code" button); a secret that cannot be opened (sealed for another
    purpose or tampered with) is replaced too.  Not audited: nothing is in force yet.

    :raises Conflict: the user has a confirmed second factor already.
    :raises KeyStoreUnavailable: the key-encryption key is missing or wrong.
    """
    if user.totp_enrolled:
        raise Conflict("Your second factor is set up already.")
    kek = _kek()
    db.session.refresh(user, ["totp_sealed", "totp_last_step"])
    if not renew and user.totp_sealed is not None:
        try:
            return crypto_store.unseal(user.totp_sealed, _pending_aad(user), kek).decode("ascii")
        except crypto_store.WrongKeyEncryptionKey as exc:
            raise KeyStoreUnavailable(f"Second factors are unavailable: {exc.message}") from None
        except crypto_store.KeyStoreError:
            renew = True
    secret = new_totp_secret()
    sealed = crypto_store.seal(secret.encode("ascii"), _pending_aad(user), kek)
    unchanged = (User.totp_sealed.is_(None) if user.totp_sealed is None
                 else User.totp_sealed == user.totp_sealed)
    # conditional: two tabs loading the page at once keep one secret (the first written)
    stored = db.session.execute(
        sa.update(User).where(User.id == user.id, User.totp_last_step.is_(None), unchanged)
        .values(totp_sealed=sealed).execution_options(synchronize_session=False))
    db.session.commit()
    db.session.refresh(user, ["totp_sealed", "totp_last_step"])
    if stored.rowcount == 1:  # type: ignore[attr-defined]
        return secret
    return pending_totp_secret(user)  # another request stored one first: show that one


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    issuer = str(current_app.config.get("TOTP_ISSUER", "Stagegate"))
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG ``data:`` URI (rendered here; no external service;
    an ``<img>`` keeps the page's CSP strict)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8,
                        border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _match_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (``now - 1 .. now + 1``) whose code equals ``code``, or ``None``."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


def _recovery_hash(code: str) -> str:
    cleaned = re.sub(r"[\s-]", "", code or "").lower()
    return hashlib.sha256(f"stagegate-recovery:{cleaned}".encode()).hexdigest()


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(10)  # 80 bits
        code = "-".join(raw[i:i + 5] for i in range(0, 20, 5))
        codes.append(code)
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code),
                                    created_at=now))
    return codes


#: how far (in 30-second steps, each way) a code is looked for to tell a device clock that is
#: off from a code of another key (10 minutes)
CLOCK_SKEW_STEPS = 20


def code_problem(secret: str, code: str, now: datetime) -> str:
    """Why ``code`` does not confirm ``secret`` at ``now``, in words that say what to do.

    Only when the code is the secret's code of another time within ±10 minutes is the
    device clock blamed (with how far off it is); otherwise the code is not one of this key
    at all: an authenticator entry from an earlier set-up page, another account, or a typo.
    """
    cleaned = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", cleaned):
        return "Enter the 6 digits your authenticator app shows for Stagegate."
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP
    for offset in range(2, CLOCK_SKEW_STEPS + 1):
        for step in (current - offset, current + offset):
            if hmac.compare_digest(totp.at(step * TOTP_STEP), cleaned):
                minutes = max(1, round(offset * TOTP_STEP / 60))
                way = "behind" if step < current else "ahead"
                return (f"That code is from the key shown on this page, but your device's "
                        f"clock is about {minutes} minute{'s' if minutes != 1 else ''} {way}. "
                        "Set its time automatically, then enter the current code.")
    return ("That code does not match the key shown on this page. Check that the entry in "
            "your authenticator app shows this account, and that it was added from this page "
            "(an entry scanned from an earlier set-up page does not work; remove it), then "
            "enter its current code.")


def confirm_totp(user: User, secret: str, code: str, now: datetime | None = None) -> list[str]:
    """Enrol ``secret`` once the user proves it with a current ``code``.

    :returns: the new recovery codes (shown once; only their hashes are kept).
    :raises ValidationFailed: the code does not match (``{"code": <code_problem>}``).
    """
    moment = now or clock()
    step = _match_step(secret, code, moment)
    if step is None:
        raise ValidationFailed({"code": code_problem(secret, code, moment)})
    user.totp_sealed = crypto_store.seal(secret.encode("ascii"), _aad(user), _kek())
    user.totp_last_step = step
    codes = _new_recovery_codes(user, moment)
    audit_hook("user.totp_enrolled", user.email, f"user:{user.email}", {})
    db.session.commit()
    return codes


def verify_second_factor(user: User, code: str, now: datetime | None = None) -> str | None:
    """Check a TOTP code (each time step once) or an unused recovery code; on success the
    step or code is spent (committed).

    :returns: ``"totp"``, ``"recovery"`` or ``None`` (refused).
    """
    moment = now or clock()
    if user.totp_sealed is None or not user.totp_enrolled:  # a pending secret never signs in
        return None
    try:
        secret = crypto_store.unseal(user.totp_sealed, _aad(user), _kek()).decode("ascii")
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Second factors are unavailable: {exc.message}") from None
    step = _match_step(secret, code, moment)
    if step is not None:
        changed = db.session.execute(
            sa.update(User).where(User.id == user.id,
                                  sa.or_(User.totp_last_step.is_(None),
                                         User.totp_last_step < step))
            .values(totp_last_step=step).execution_options(synchronize_session=False))
        db.session.commit()
        db.session.refresh(user)
        return "totp" if changed.rowcount == 1 else None  # type: ignore[attr-defined]
    changed = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=moment).execution_options(synchronize_session=False))
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        audit_hook("user.recovery_code_used", user.email, f"user:{user.email}",
                   {"left": remaining_recovery_codes(user)})
        db.session.commit()
        return "recovery"
    db.session.rollback()
    return None


def remaining_recovery_codes(user: User) -> int:
    """How many unused recovery codes the user has."""
    return int(db.session.execute(db.select(sa.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).scalar_one())


def reset_totp(user_id: int, *, actor: User) -> User:
    """Remove a user's second factor (lost device); approvers and admins must enrol again
    at their next request.  Ends their sessions."""
    user = get_user(user_id)
    user.totp_sealed = None
    user.totp_last_step = None
    _end_sessions(user)
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit_hook("user.totp_reset", actor.email, f"user:{user.email}", {})
    db.session.commit()
    return user
