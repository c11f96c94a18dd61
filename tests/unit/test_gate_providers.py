"""The gate asks the registered evidence providers whose kind the target stage's rules use
(fakes, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from lifecycle.gates import providers
from policies.findings import Finding, Status
from policies.gate import decide
from policies.rules import Evidence, Severity

NOW = datetime(2027, 1, 1, tzinfo=UTC)


class FakeProvider:
    def __init__(self, kind: str, found: list[Finding]) -> None:
        self.kinds = frozenset({kind})
        self.found = found
        self.asked: list[tuple[object, str, datetime]] = []

    def findings(self, version: object, target: str, now: datetime) -> list[Finding]:
        self.asked.append((version, target, now))
        return list(self.found)


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config["POLICY_PACK"] = "default"
    return app


def test_only_providers_of_the_kinds_a_stage_uses_are_asked(app: Flask) -> None:
    spec = FakeProvider(Evidence.SPEC, [Finding("SPEC-VALID", Severity.CRITICAL, Status.PASS,
                                                "valid")])
    token = FakeProvider(Evidence.TOKEN, [])
    gateway = FakeProvider(Evidence.GATEWAY, [])  # used by the deployment stage only
    providers.register(app, [spec, token, gateway])
    version = object()
    with app.app_context():
        pack = providers.policy_pack()
        found = providers.collect_findings(version, pack, "testing", NOW)  # type: ignore[arg-type]
        assert [f.rule_id for f in found] == ["SPEC-VALID"]
        assert spec.asked == [(version, "testing", NOW)] and token.asked == []
        providers.collect_findings(version, pack, "deployment", NOW)  # type: ignore[arg-type]
        assert len(spec.asked) == 2 and token.asked == [(version, "deployment", NOW)]
        assert gateway.asked == [(version, "deployment", NOW)]
        assert providers.collect_findings(version, pack, "retirement", NOW) == []  # type: ignore[arg-type]
        assert len(gateway.asked) == 1


def test_a_stage_without_evidence_from_a_provider_is_missing_evidence(app: Flask) -> None:
    providers.register(app, [FakeProvider(Evidence.SPEC, [])])
    with app.app_context():
        pack = providers.policy_pack()
        found = providers.collect_findings(object(), pack, "testing", NOW)  # type: ignore[arg-type]
    decision = decide(pack, "testing", found)
    assert not decision.passed  # fail closed: nothing supplied, nothing passes


def test_only_evidence_providers_can_be_registered(app: Flask) -> None:
    with pytest.raises(TypeError):
        providers.register(app, [object()])  # type: ignore[list-item]
    assert providers.kinds_used(providers.load_pack("default"), "deployment") == {
        "spec", "token", "jwks", "gateway"}
