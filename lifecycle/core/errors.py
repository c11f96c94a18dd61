"""Domain errors: what a service refuses, with the HTTP status and the machine-readable code
each entrypoint answers with (REST: ``{"error": code, "message": message, "details": details}``;
web: an error page or fragment).  Services raise them; one handler per entrypoint maps them
(:mod:`lifecycle.api.errors`, :mod:`lifecycle.web.errors`).

- :class:`NotFound` — no such API, version, request, … (404 ``not_found``);
- :class:`Conflict` — the thing exists, or a concurrent change won (409 ``conflict``);
- :class:`ValidationFailed` — bad field values, ``errors`` maps field → message (422);
- :class:`InvalidTransition` — the stage machine forbids the move (422);
- :class:`GateFailed` — the target stage's gate blocks, ``decision`` says why (409);
- :class:`ApprovalRequired` — the move needs approvals (409 ``approval_required``);
- :class:`SelfApproval`, :class:`NoApprovalNeeded`, :class:`NotWaivable` — review refusals;
- :class:`Forbidden` — the acting user may not do this (403);
- :class:`KeyStoreUnavailable` — the key-encryption key cannot be used (503).

:class:`specs.SpecLoadError` (unreadable uploads: 422 / 413) comes from ``specs`` and is
mapped by the same handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from specs.wording import plural

if TYPE_CHECKING:
    from policies.gate import GateDecision


class DomainError(Exception):
    """Base of the errors services raise; ``message`` is one sentence for a person.

    :cvar status: the HTTP status an entrypoint answers with.
    :cvar code: the machine-readable ``error`` of the REST answer.
    :cvar title: the heading of the web error page (``None``: derived from ``code``).
    """

    status: int = 400
    code: str = "bad_request"
    title: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def details(self) -> Any:
        """The ``details`` of the REST answer (``None`` unless a subclass says more)."""
        return None


class NotFound(DomainError):
    """No API or version with that name (or no such request, waiver, …)."""

    status, code = 404, "not_found"


class Conflict(DomainError):
    """The thing exists already, or another request changed it first."""

    status, code = 409, "conflict"


class Forbidden(DomainError):
    """The acting user is not allowed to do this (403 ``forbidden``)."""

    status, code, title = 403, "forbidden", "Not allowed"


class ValidationFailed(DomainError):
    """Field values are not acceptable.

    :ivar errors: field name → message, e.g. ``{"name": "Use lower-case letters ..."}``.
    """

    status, code = 422, "validation_failed"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    @property
    def details(self) -> Any:
        return {"fields": self.errors}


class InvalidTransition(DomainError):
    """The requested move is not allowed from the current stage (REST: 422).

    :ivar message: one sentence for a person.
    :ivar from_stage: the current stage.
    :ivar to_stage: the requested stage (as given).
    """

    status, code = 422, "invalid_transition"

    def __init__(self, message: str, from_stage: str, to_stage: str) -> None:
        super().__init__(message)
        self.from_stage = from_stage
        self.to_stage = to_stage

    @property
    def details(self) -> Any:
        return {"from": self.from_stage, "to": self.to_stage}


class GateFailed(DomainError):
    """The gate of the target stage blocks the move.

    :ivar decision: the :class:`policies.gate.GateDecision` (its ``blocking`` findings say why).
    :ivar check_run_id: the recorded :class:`~lifecycle.catalog.models.CheckRun` of this
        attempt.
    """

    status, code = 409, "gate_failed"

    def __init__(self, decision: GateDecision, check_run_id: int | None = None) -> None:
        rules = sorted({f.rule_id for f in decision.blocking})
        super().__init__(
            f"The {decision.target} gate blocks this version: "
            f"{plural(len(decision.blocking), 'blocking finding')} ({', '.join(rules)})."
        )
        self.decision = decision
        self.check_run_id = check_run_id


class ApprovalRequired(Conflict):
    """The gate passes, but the move into ``stage`` needs ``required`` approval(s) by someone
    other than the requester: ask with a promotion request (:mod:`lifecycle.review`)."""

    code = "approval_required"

    def __init__(self, stage: str, required: int) -> None:
        super().__init__(
            f"Promotion to {stage} needs {plural(required, 'approval')} by an approver other "
            "than the "
            "requester (four eyes): request it with POST …/promotion-requests "
            f'{{"to": "{stage}", "reason": …}}, or "Request promotion" on the version page.'
        )
        self.stage = stage
        self.required = required

    @property
    def details(self) -> Any:
        return {"to": self.stage, "required_approvals": self.required}


class SelfApproval(DomainError):
    """The requester tried to approve their own promotion request (REST 403
    ``self_approval``)."""

    status, code, title = 403, "self_approval", "Not your own request"


class NoApprovalNeeded(DomainError):
    """The move needs no approval; use a plain transition (REST 422
    ``no_approval_needed``)."""

    status, code = 422, "no_approval_needed"


class NotWaivable(DomainError):
    """The rule cannot be waived: it is ``critical`` (REST 422 ``not_waivable``)."""

    status, code, title = 422, "not_waivable", "Cannot be waived"


class KeyStoreUnavailable(DomainError):
    """The key-encryption key is missing, malformed or wrong (an operator must fix the
    configuration; REST answers 503 ``key_store_unavailable``); ``message`` says what to set
    and never contains key material."""

    status, code = 503, "key_store_unavailable"


class ApiError(DomainError):
    """An input error a REST view raises directly, with its own ``status``, ``code``,
    ``message`` and ``details``."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self._details = details

    @property
    def details(self) -> Any:
        return self._details
