"""Account models: users, teams and memberships, recovery codes, personal access tokens, and
the app's own access-token keys.

- :class:`User`: email (lower-case, unique) and an argon2id ``password_hash``; ``roles`` is a
  list drawn from :data:`lifecycle.accounts.authz.ROLES`; ``session_epoch`` counts "log out
  everywhere" (a session remembers the epoch it was opened in); ``token_epoch`` moves when
  the user is deactivated or their password changes (an access token carries the epoch it
  was minted in and dies when it moves — also after reactivation); ``must_change_password``
  is set by an admin's password reset and cleared by the user's own change; the TOTP
  secret exists only sealed under the key-encryption key (:mod:`lifecycle.core.crypto_store`)
  — while ``totp_last_step`` is null, ``totp_sealed`` holds the secret being set up (sealed
  under other associated data; it never signs in; see
  :func:`lifecycle.accounts.services.pending_totp_secret`).
- :class:`Team` owns APIs (``Api.team_id``); :class:`Membership` links users and teams.
- :class:`RecoveryCode`: SHA-256 of a one-time second-factor code (the code is shown once).
- :class:`PersonalAccessToken`: a PAT is ``sgp_<lookup>_<secret>``; only ``lookup`` (to find
  the row) and the SHA-256 of the whole token are stored.
- :class:`AppKey`: the app's access-token key pairs (``purpose`` ``sig``: ES256 signing,
  ``enc``: ECDH-ES+A256KW decryption) — separate pairs (KEY-SEPARATION); private JWKs sealed
  under the KEK; at most one active key per purpose.

Times are aware UTC (:class:`lifecycle.core.db.UTCDateTime`).  The schema is created by the
migrations ``0004_accounts`` and ``0008`` (token epoch, password reset).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifecycle.core.db import UTCDateTime, utcnow
from lifecycle.core.extensions import db

#: longest accepted email (every ``actor`` column holds 100 characters)
MAX_EMAIL = 100
MAX_TEAM_NAME = 100


class Team(db.Model):  # type: ignore[name-defined,misc]
    """A team: a unique display ``name`` (at most 100 characters); teams own APIs."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(MAX_TEAM_NAME), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="team", cascade="all, delete-orphan")

    @property
    def members(self) -> list[User]:
        """Members ordered by email."""
        return sorted((m.user for m in self.memberships), key=lambda u: u.email)

    def __repr__(self) -> str:
        return f"<Team {self.name}>"


class Membership(db.Model):  # type: ignore[name-defined,misc]
    """User ``user_id`` belongs to team ``team_id``."""

    __tablename__ = "team_membership"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("team.id"), primary_key=True,
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    team: Mapped[Team] = relationship(back_populates="memberships")


class User(db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in (see the module docstring).  ``active`` false: refused at login,
    and every open session and access token stops working."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(MAX_EMAIL), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    roles: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    session_epoch: Mapped[int] = mapped_column(default=0)
    token_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    must_change_password: Mapped[bool] = mapped_column(default=False,
                                                       server_default=sa.false())
    totp_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan")

    # -- Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """``"<id>:<session_epoch>"``: a "log out everywhere" bumps the epoch, so sessions
        opened before it no longer load (Flask-Login "alternative tokens")."""
        return f"{self.id}:{self.session_epoch}"

    # -- helpers
    @property
    def team_ids(self) -> frozenset[int]:
        """Ids of the user's teams."""
        return frozenset(m.team_id for m in self.memberships)

    @property
    def teams(self) -> list[Team]:
        """The user's teams by name."""
        return sorted((m.team for m in self.memberships), key=lambda t: t.name)

    @property
    def totp_enrolled(self) -> bool:
        """True once a TOTP secret is confirmed."""
        return self.totp_last_step is not None

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """A one-time second-factor code: only its SHA-256 (hex) is stored; ``used_at`` is set
    when spent (a conditional update, so a code works once)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(db.Model):  # type: ignore[name-defined,misc]
    """One browser sign-in (:mod:`lifecycle.accounts.sessions`): the cookie holds a random
    session id, only its SHA-256 (hex) is stored here.  ``ended_at`` is set at sign-out; a
    cookie whose row is ended or missing is signed out on its next request."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    sid_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PersonalAccessToken(db.Model):  # type: ignore[name-defined,misc]
    """A personal access token (see :mod:`lifecycle.accounts.apitokens`): never stored in clear."""

    __tablename__ = "personal_access_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    lookup: Mapped[str] = mapped_column(sa.String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def client_id(self) -> str:
        """The public part of the token (``sgp_<lookup>``): the OAuth ``client_id``."""
        return f"sgp_{self.lookup}"

    def usable_at(self, moment: datetime) -> bool:
        """Not revoked and not expired at ``moment``."""
        return self.revoked_at is None and moment < self.expires_at

    def status_at(self, moment: datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if moment < self.expires_at else "expired"


class AppKey(db.Model):  # type: ignore[name-defined,misc]
    """One of the app's access-token key pairs: ``purpose`` ``sig`` or ``enc``."""

    __tablename__ = "app_key"
    __table_args__ = (
        sa.CheckConstraint("purpose IN ('sig', 'enc')", name="purpose"),
        sa.Index("uq_app_key_one_active", "purpose", unique=True,
                 sqlite_where=sa.text("active"), postgresql_where=sa.text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(8))
    kid: Mapped[str] = mapped_column(sa.String(128), unique=True)
    alg: Mapped[str] = mapped_column(sa.String(32))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    sealed_private: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
