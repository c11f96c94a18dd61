"""Actors for tests that call services directly (entrypoint tests sign in instead)."""

from __future__ import annotations

from lifecycle.core.actor import Actor, ActorKind

#: who acts in service-level tests that do not care (recorded as ``tester``)
TESTER = Actor(ActorKind.SYSTEM, "tester")


def as_actor(name: str) -> Actor:
    """A person acting under ``name`` (usually an email), without an account."""
    return Actor(ActorKind.USER, name)

