"""Who acts: a typed actor every changing service takes explicitly (no default).

Entrypoints build it: the web from the session user, the REST API from the user behind the
bearer token, the CLI as ``cli``, background work as ``system``.  The audit trail and the
records store :attr:`Actor.label` (the user's email for people).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: longest actor text stored in a record
MAX_LABEL = 320


class ActorKind(StrEnum):
    """How the actor authenticated."""

    USER = "user"    # a signed-in person (web session)
    TOKEN = "token"  # a person through a bearer access token (REST)
    CLI = "cli"      # an operator on the command line
    SYSTEM = "system"  # Stagegate itself (demo data, maintenance)


@dataclass(frozen=True, slots=True)
class Actor:
    """The acting user or process.

    :ivar kind: see :class:`ActorKind`.
    :ivar name: the email of a person, or the name of the process (``cli``, ``stagegate``).
    :ivar user_id: the :class:`~lifecycle.accounts.models.User` id of a person, else ``None``.
    :ivar display: how pages show them (default ``name``).
    """

    kind: ActorKind
    name: str
    user_id: int | None = None
    display: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("an actor needs a name")

    @property
    def label(self) -> str:
        """What records store as the actor (at most 320 characters)."""
        return self.name.strip()[:MAX_LABEL]

    def __str__(self) -> str:
        return self.label

    @classmethod
    def of_user(cls, user: Any, *, kind: ActorKind = ActorKind.USER) -> Actor:
        """The actor of a signed-in :class:`~lifecycle.accounts.models.User`."""
        return cls(kind, str(user.email), int(user.id),
                   getattr(user, "display_name", None) or str(user.email))

    @classmethod
    def cli(cls, name: str = "cli") -> Actor:
        """An operator on the command line."""
        return cls(ActorKind.CLI, name)

    @classmethod
    def system(cls, name: str = "stagegate") -> Actor:
        """Stagegate itself."""
        return cls(ActorKind.SYSTEM, name)
