"""Demo data: a handful of APIs whose versions end in different stages.

The example documents in ``lifecycle/demo/specs/`` are small but realistic; some pass every
gate, some are blocked.  Everything goes through the services (:mod:`lifecycle.catalog.services`,
:mod:`lifecycle.gates.moves`), so every promotion
is decided by the real gates and recorded with its check run.

Before a promotion into ``deployment`` the demo supplies real evidence: a managed encryption
key for the version, the public JWKS of an issuer key generated in this process, and a
sample token that issuer signed and encrypted to the version's key, analysed like any other.
The issuer's private key never leaves the process (it is neither printed nor stored).

Gateway evidence: the demo saves gateway settings, renders the nginx configuration and — when
Debian's nginx is installed — proves it with a real nginx under the attack matrix
(:func:`lifecycle.gateway.services.prove`).  Without nginx the proof stays visibly missing
and those versions stop before ``deployment`` (``GW-PROOF``).  Within one process a proof of
a byte-identical configuration is reused (times restamped), so loading the demo twice (tests)
runs nginx once per configuration.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jwt

from lifecycle.catalog import services
from lifecycle.catalog.models import Api
from lifecycle.catalog.token_profile import profile_of
from lifecycle.core import errors
from lifecycle.core.actor import Actor
from lifecycle.core.clock import clock
from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.gates import evaluate, moves
from lifecycle.gateway import services as gateway
from lifecycle.gateway.proof import ProofResult
from lifecycle.review import approvals

SPECS = Path(__file__).parent / "specs"
ACTOR = Actor.system("demo")
#: who approves the demo's promotions into deployment (never the requester)
APPROVER = Actor.system("demo-approver")


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
    #: supply token evidence even without a move into deployment (so a person can try the
    #: four-eyes request and approval in the demo)
    evidence: bool = False


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
            DemoVersion("2.0.0", "inventory.yaml", (Step("development"), Step("testing")),
                        evidence=True),  # ready: request deployment, then approve it
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
    """Where one demo version ended: ``stage``, what happened on the way, and the verdict of
    its next gate (``None`` when retired)."""

    api: str
    version: str
    stage: str
    notes: list[str]
    next_gate: str | None = None


def has_data() -> bool:
    """True when the database holds any API (the demo loads only into an empty one)."""
    return db.session.execute(db.select(Api.id).limit(1)).first() is not None


def load() -> list[Outcome]:
    """Create the demo APIs, upload their documents and try their moves.

    Needs an app context and a migrated, empty database (see :func:`has_data`).
    """
    outcomes = []
    for api in DEMO:
        services.create_api(api.name, api.title, api.description, api.team, actor=ACTOR)
        for ver in api.versions:
            services.create_version(api.name, ver.version, actor=ACTOR)
            services.upload_spec(api.name, ver.version, (SPECS / ver.spec).read_bytes(),
                                 uploader=ACTOR)
            notes: list[str] = []
            blocked = False
            for step in ver.steps:
                if blocked and step.reason is None:
                    continue
                if step.to == "deployment" and not blocked:
                    notes += _supply_token_evidence(api.name, ver.version)
                    notes += _supply_gateway_evidence(api.name, ver.version)
                try:
                    _move(api.name, ver.version, step)
                    if step.reason:
                        notes.append(f"then moved to {step.to} by decision")
                except errors.GateFailed as exc:
                    blocked = True
                    rules = sorted({f.rule_id for f in exc.decision.blocking})
                    notes.append(f"blocked at {step.to}: {', '.join(rules)}")
                except errors.InvalidTransition as exc:
                    notes.append(f"not moved to {step.to}: {exc.message}")
            if ver.evidence and not blocked:
                notes += _supply_token_evidence(api.name, ver.version)
                notes += _supply_gateway_evidence(api.name, ver.version)
            final = services.get_version(api.name, ver.version)
            outcomes.append(Outcome(api.name, ver.version, final.stage, notes,
                                    _next_gate(final)))
    return outcomes


def _next_gate(version_obj: object) -> str | None:
    """``"next gate into X passes"`` / ``"… blocked by N rules"``, or ``None`` when retired."""
    decision = evaluate.gate_status(version_obj)  # type: ignore[arg-type]
    if decision is None:
        return None
    if decision.passed:
        return f"gate into {decision.target} passes"
    count = len({f.rule_id for f in decision.blocking})
    return f"gate into {decision.target} blocked by {count} rule{'s' if count != 1 else ''}"


def _move(name: str, version: str, step: Step) -> None:
    """One transition; a move that needs approval (four eyes, deployment) is requested by
    the demo and approved by a second, demo approver."""
    try:
        moves.transition(name, version, step.to, step.reason, actor=ACTOR)
    except errors.ApprovalRequired:
        request = approvals.request_promotion(name, version, step.to,
                                              step.reason or "Demo release",
                                              actor=ACTOR)
        approvals.approve(name, version, request.id, APPROVER,
                          "Demo: gate passed, evidence reviewed.")


#: issuer signing key parameters per JWS alg (jwcrypto ``JWK.generate`` arguments)
_SIGNING_KEYS: dict[str, dict[str, Any]] = {
    "ES256": {"kty": "EC", "crv": "P-256"},
    "ES384": {"kty": "EC", "crv": "P-384"},
    "ES512": {"kty": "EC", "crv": "P-521"},
    "PS256": {"kty": "RSA", "size": 3072},
    "PS384": {"kty": "RSA", "size": 3072},
    "PS512": {"kty": "RSA", "size": 3072},
}


def _supply_token_evidence(name: str, version: str) -> list[str]:
    """Generate the version's encryption key, an issuer key, the issuer's public JWKS as
    evidence and one analysed sample token; returns notes for the outcome."""
    obj = services.get_version(name, version)
    profile = profile_of(obj)
    params = _SIGNING_KEYS.get(profile.signing_alg or "")
    if params is None or not profile.alg or not profile.issuer or not profile.audience:
        return ["no token evidence: the spec declares no usable token profile"]
    if keys.current_key(obj) is None:
        keys.generate_key(name, version, actor=ACTOR)
    signer = jwk.JWK.generate(**params, use="sig", alg=profile.signing_alg)
    signer["kid"] = signer.thumbprint()
    public_jwks = {"keys": [signer.export_public(as_dict=True)]}
    evidence.submit_jwks(name, version, json.dumps(public_jwks).encode(), actor=ACTOR)
    recipient = keys.public_jwks(obj)["keys"][0]
    now = int(clock().timestamp())
    claims = {"iss": profile.issuer, "aud": profile.audience[0], "sub": "demo-user",
              "client_id": "demo-client", "scope": "read", "iat": now, "exp": now + 300,
              "jti": str(uuid.uuid4())}
    inner = jwt.JWT(header={"alg": profile.signing_alg, "typ": "at+jwt",
                            "kid": signer["kid"]}, claims=claims)
    inner.make_signed_token(signer)
    outer = jwt.JWT(header={"alg": recipient["alg"], "enc": profile.enc or "A256GCM",
                            "cty": "JWT", "kid": recipient["kid"]},
                    claims=inner.serialize())
    outer.make_encrypted_token(jwk.JWK(**recipient))
    record, _ = evidence.analyse_token(name, version, outer.serialize(), actor=ACTOR)
    del signer, inner, outer
    return [] if record.passed else ["the demo sample token did not pass"]


#: real proofs of this process by configuration SHA-256 (see the module docstring)
_PROOFS: dict[str, ProofResult] = {}


def nginx_available() -> bool:
    """True when the nginx binary the proofs use exists and is executable."""
    binary = gateway.nginx_binary()
    return os.path.isfile(binary) and os.access(binary, os.X_OK)


def _supply_gateway_evidence(name: str, version: str) -> list[str]:
    """Save demo gateway settings, store the generated configuration and prove it when nginx
    is installed; returns notes for the outcome."""
    now = clock()
    slug = name.replace("_", "-")
    gateway.put_settings(name, version, {
        "server_name": f"{slug}.demo.stagegate.test", "upstream": "http://127.0.0.1:9000",
        "certificate": f"/etc/ssl/certs/{slug}.pem",
        "certificate_key": f"/etc/ssl/private/{slug}.key",
        "validator": "/run/stagegate/validator.sock"}, ACTOR, now)
    try:
        config, _ = gateway.generate_config(name, version, "nginx", ACTOR, now)
    except errors.ValidationFailed as exc:
        return [f"no gateway configuration: {'; '.join(exc.errors.values())}"]
    if not nginx_available():
        return ["gateway unproven: nginx is not installed (GW-PROOF missing)"]
    obj = services.get_version(name, version)
    known = _PROOFS.get(config.sha256)
    if known is None:
        result = gateway.prove(obj, config, clock)
        if result.passed:
            _PROOFS[config.sha256] = result
    else:
        moment = clock()
        result = replace(known, started_at=moment, finished_at=moment)
    gateway.store_proof(obj, config, result, ACTOR.label)
    db.session.commit()
    return [] if result.passed else [f"the gateway proof failed: {result.error or 'see table'}"]
