"""Demo data: a handful of APIs whose versions end in different stages.

The example documents in ``lifecycle/demo/specs/`` are small but realistic; some pass every
gate, some are blocked.  Everything goes through :mod:`lifecycle.services`, so every promotion
is decided by the real gates and recorded with its check run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lifecycle import services
from lifecycle.extensions import db
from lifecycle.models import Api

SPECS = Path(__file__).parent / "specs"
ACTOR = "demo"


@dataclass(frozen=True)
class Step:
    """A requested move.  Steps without a reason are promotions: after a blocked gate the
    remaining promotions are skipped; steps with a reason (a person's decision to demote or
    abandon) still happen."""

    to: str
    reason: str | None = None


@dataclass(frozen=True)
class DemoVersion:
    version: str
    spec: str
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class DemoApi:
    name: str
    title: str
    team: str
    description: str
    versions: tuple[DemoVersion, ...] = field(default_factory=tuple)


_UP_TO_DEPLOYMENT = (Step("development"), Step("testing"), Step("deployment"))

DEMO: tuple[DemoApi, ...] = (
    DemoApi(
        "payments", "Payments API", "Payments",
        "Card and bank-transfer payments for the web shop.",
        (
            DemoVersion("1.3.2", "payments.yaml", (
                *_UP_TO_DEPLOYMENT, Step("retirement"),
            )),
            DemoVersion("1.4.0", "payments.yaml", _UP_TO_DEPLOYMENT),
            DemoVersion("2.0.0-beta.1", "payments.yaml"),  # a new draft, still in design
        ),
    ),
    DemoApi(
        "inventory", "Inventory API", "Logistics",
        "Stock levels per warehouse (ECDH-ES+A256KW encrypted tokens).",
        (
            DemoVersion("2.0.0", "inventory.yaml", (Step("development"), Step("testing"))),
            DemoVersion("1.9.0", "inventory.yaml", (
                Step("development"), Step("testing"),
                Step("development", "Load tests found stock drift under concurrent "
                                    "adjustments; back to development."),
            )),
        ),
    ),
    DemoApi(
        "orders", "Orders API", "Checkout",
        "Customer orders; one endpoint lost its security requirement.",
        (DemoVersion("3.2.0", "orders.json", _UP_TO_DEPLOYMENT),),
    ),
    DemoApi(
        "legacy-billing", "Legacy Billing API", "Finance",
        "The old invoicing service (Swagger 2.0, plain http).",
        (
            DemoVersion("0.9.3", "legacy-billing.yaml", (
                Step("development"), Step("testing"),
                Step("retirement", "Replaced by the Payments API; the plain-http service is "
                                   "being switched off."),
            )),
        ),
    ),
    DemoApi(
        "profiles", "Customer Profiles API", "Identity",
        "First draft; passes the access token in the query string.",
        (DemoVersion("0.1.0", "profiles-draft.yaml", (Step("development"), Step("testing"))),),
    ),
)


@dataclass
class Outcome:
    """Where one demo version ended: ``stage`` and what happened on the way."""

    api: str
    version: str
    stage: str
    notes: list[str]


def has_data() -> bool:
    """True when the database holds any API (the demo loads only into an empty one)."""
    return db.session.execute(db.select(Api.id).limit(1)).first() is not None


def load() -> list[Outcome]:
    """Create the demo APIs, upload their documents and try their moves.

    Needs an app context and a migrated, empty database (see :func:`has_data`).
    """
    outcomes = []
    for api in DEMO:
        services.create_api(api.name, api.title, api.description, api.team)
        for ver in api.versions:
            services.create_version(api.name, ver.version)
            services.upload_spec(api.name, ver.version, (SPECS / ver.spec).read_bytes(),
                                 uploader=ACTOR)
            notes: list[str] = []
            blocked = False
            for step in ver.steps:
                if blocked and step.reason is None:
                    continue
                try:
                    services.transition(api.name, ver.version, step.to, step.reason, ACTOR)
                except services.GateFailed as exc:
                    blocked = True
                    rules = sorted({f.rule_id for f in exc.decision.blocking})
                    notes.append(f"blocked at {step.to}: {', '.join(rules)}")
                except services.InvalidTransition as exc:
                    notes.append(f"not moved to {step.to}: {exc.message}")
            final = services.get_version(api.name, ver.version)
            outcomes.append(Outcome(api.name, ver.version, final.stage, notes))
    return outcomes
