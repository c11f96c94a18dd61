"""Evidence providers: where a gate's findings come from.

A provider supplies the findings of one or more evidence kinds
(:class:`policies.rules.Evidence`: ``spec``, ``token``, ``jwks``, …) for a version.  The app's
composition registers the providers (:func:`register`, called by ``create_app``); the gate
asks only those whose kind a rule of the target stage uses.  Adding an evidence kind = write a
provider, list it in the composition, list its rules in the policy pack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from flask import Flask, current_app

from lifecycle.catalog.models import ApiVersion
from policies.findings import Finding
from policies.packs import PolicyPack, load_pack

#: key of the registered providers in ``app.extensions``
EXTENSION = "stagegate.evidence_providers"


@runtime_checkable
class EvidenceProvider(Protocol):
    """Supplies findings of the evidence ``kinds`` it names.

    :ivar kinds: the evidence kinds (``policies.rules.Evidence`` values) it supplies.
    """

    kinds: frozenset[str]

    def findings(self, version: ApiVersion, target: str, now: datetime) -> list[Finding]:
        """Every finding of its kinds for ``version`` judged for entering ``target`` at
        ``now`` (aware UTC); ``missing-evidence`` findings saying what to supply when there
        is none.  Reads only; never commits."""
        ...


def register(app: Flask, providers: Iterable[EvidenceProvider]) -> None:
    """Register ``providers`` on ``app`` (in order; the composition root calls this once)."""
    listed = tuple(providers)
    for provider in listed:
        if not isinstance(provider, EvidenceProvider):
            raise TypeError(f"{provider!r} is not an EvidenceProvider")
    app.extensions[EXTENSION] = listed


def registered() -> Sequence[EvidenceProvider]:
    """The providers registered on the current app."""
    return tuple(current_app.extensions.get(EXTENSION, ()))


def policy_pack() -> PolicyPack:
    """The app's configured policy pack (``POLICY_PACK``: a built-in name or a YAML path)."""
    return load_pack(str(current_app.config["POLICY_PACK"]))


def kinds_used(pack: PolicyPack, target: str) -> frozenset[str]:
    """The evidence kinds the rules of the gate into ``target`` use."""
    if target not in pack.stages:
        return frozenset()
    return frozenset(str(rule.evidence) for rule in pack.stage(target).applied_rules())


def collect_findings(version: ApiVersion, pack: PolicyPack, target: str,
                     now: datetime) -> list[Finding]:
    """Every finding the gate into ``target`` considers: those of each registered provider
    whose evidence kind a rule of the stage uses (before waivers)."""
    used = kinds_used(pack, target)
    found: list[Finding] = []
    for provider in registered():
        if provider.kinds & used:
            found += provider.findings(version, target, now)
    return found


def evidence_valid_until(version: ApiVersion, pack: PolicyPack, target: str,
                         now: datetime) -> datetime | None:
    """The earliest time after ``now`` at which a used provider's findings may change by the
    clock alone (e.g. token evidence ageing out), or ``None``.

    Providers may offer ``valid_until(version, target, now) -> datetime | None``; those
    without it have findings that only change when something is stored.
    """
    used = kinds_used(pack, target)
    times = []
    for provider in registered():
        until = getattr(provider, "valid_until", None)
        if provider.kinds & used and callable(until):
            moment = until(version, target, now)
            if moment is not None and moment > now:
                times.append(moment)
    return min(times, default=None)


def proven_until(version: ApiVersion, now: datetime) -> datetime | None:
    """Until when a provider vouches that the version's deployment is *enforced and proven*
    (the gateway's passing proof of its current configuration, for the board's badge): the
    earliest such time after ``now`` among providers offering
    ``proven_until(version, now) -> datetime | None``; ``None`` when no provider offers it or
    one of them says no."""
    times = []
    for provider in registered():
        until = getattr(provider, "proven_until", None)
        if callable(until):
            moment = until(version, now)
            if moment is None or moment <= now:
                return None
            times.append(moment)
    return min(times, default=None)
