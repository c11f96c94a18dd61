"""``check_token(on_verified=...)``: the unredacted claims, only after the signature verified."""

from __future__ import annotations

from typing import Any

from tokenkit import Kit


def test_on_verified_gets_the_claims_of_a_verified_token(kit: Kit) -> None:
    seen: list[dict[str, Any]] = []
    claims = kit.claims()
    token = kit.encrypt(kit.sign(kit.inner_header(), claims))
    analysis = kit.check(token, on_verified=lambda c: seen.append(dict(c)))
    assert analysis.passed
    assert seen == [claims]
    assert analysis.claims is not None and analysis.claims["sub"] == "[redacted]"


def test_on_verified_is_not_called_for_a_bad_signature(kit: Kit) -> None:
    seen: list[Any] = []
    token = kit.encrypt(kit.sign(kit.inner_header(), kit.claims(), signature=b"\0" * 64))
    analysis = kit.check(token, on_verified=seen.append)
    assert not analysis.passed and seen == []


def test_a_failing_callback_fails_closed(kit: Kit) -> None:
    def boom(claims: Any) -> None:
        raise RuntimeError("boom")

    analysis = kit.check(kit.nested(), on_verified=boom)
    assert not analysis.passed
    assert any(f.status.value == "error" for f in analysis.findings)
