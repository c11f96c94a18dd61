"""The token validator over the database (issue 11 point 1): the trust resolver (managed keys
current and in grace, issuer JWKS, profile, caches and rotation), the shared replay store,
the decision events, and acceptance 5 in process (no token in any table or log record)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from actorkit import TESTER
from evidencekit import ECDH_SPEC, SINGLE_USE_SPEC, SPEC, Issuer
from sqlalchemy import event
from validatorkit import (
    LABEL,
    call,
    database_text,
    leaks,
    make_version,
    mint,
    public_jwks,
    tampered,
)

from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence.keys import open_private_key
from lifecycle.evidence.services import submit_jwks
from lifecycle.gateway.service import build_validator
from lifecycle.gateway.stores import DbDecisionSink, DbReplayStore, decision_row
from lifecycle.gateway.trust import DbTrustResolver, parse_version_label
from lifecycle.gateway.validator import GatewayDecision
from lifecycle.gateway.validator_models import DecisionEvent, ReplayMark
from policies.tokens import replay_key

T0 = datetime.now(UTC).replace(microsecond=0)


class Moments:
    """The app clock and the resolver's monotonic clock, moved together by tests."""

    def __init__(self) -> None:
        self.now = T0
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds

    def clock(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono


class Opener:
    """Counts the private keys the resolver opens (by ``kid``)."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    def __call__(self, version_id: int, kid: str, sealed: bytes, kek: bytes):
        self.opened.append(kid)
        return open_private_key(version_id, kid, sealed, kek)


@pytest.fixture
def moments(app) -> Moments:
    moments = Moments()
    app.config["CLOCK"] = moments.clock
    return moments


@pytest.fixture
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def ecdh(app, moments, issuer):
    """``orders@1.0.0`` declaring ECDH-ES+A256KW (fast keys), its key and the issuer JWKS."""
    with app.app_context():
        yield make_version(ECDH_SPEC, issuer)


@pytest.fixture
def ecdh_single_use(app, moments, issuer):
    """Like ``ecdh``, with a profile that demands single-use tokens."""
    with app.app_context():
        yield make_version(SINGLE_USE_SPEC, issuer)


def resolver_for(app, moments: Moments, opener: Opener | None = None, **options) -> DbTrustResolver:
    with app.app_context():
        engine = db.engine
    return DbTrustResolver(engine, kek=lambda: keys.key_encryption_key(app),
                           clock=moments.clock, monotonic=moments.monotonic,
                           opener=opener or Opener(), **options)


def kids(keyset) -> set[str]:
    return {k["kid"] for k in keyset["keys"]}


def count_queries(engine: sa.Engine) -> list[str]:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: statements.append(statement))
    return statements


# ---------------------------------------------------------------------- the resolver
def test_labels_are_parsed_strictly() -> None:
    assert parse_version_label("orders/1.0.0") == ("orders", "1.0.0")
    for bad in ("orders", "orders/", "/1.0.0", "Orders/1.0.0", "orders/1.0.0/x",
                "orders/1 0", "o" * 70 + "/1", "orders/" + "1" * 41, "orders\x00/1.0"):
        assert parse_version_label(bad) is None, bad


def test_the_resolver_reads_keys_jwks_and_profile_from_the_database(app, moments, issuer,
                                                                    ecdh) -> None:
    opener = Opener()
    resolve = resolver_for(app, moments, opener)
    trust = resolve(LABEL)
    assert trust is not None and trust.version == LABEL and not trust.single_use
    assert kids(trust.decryption_keys) == kids(ecdh)
    assert all(k.has_private for k in trust.decryption_keys["keys"])
    assert kids(trust.issuer_jwks) == {issuer.kid}
    assert not any(k.has_private for k in trust.issuer_jwks["keys"])
    assert (trust.profile.alg, trust.profile.enc, trust.profile.signing_alg) == (
        "ECDH-ES+A256KW", "A256GCM", "ES256")
    assert opener.opened == list(kids(ecdh))
    assert resolve("orders/9.9.9") is None and resolve("nothing/1.0.0") is None
    assert resolve("not a label") is None


def test_a_resolution_is_reused_without_a_database_round_trip(app, moments, ecdh) -> None:
    opener = Opener()
    resolve = resolver_for(app, moments, opener, ttl=2)
    with app.app_context():
        statements = count_queries(db.engine)
    first = resolve(LABEL)
    asked = len(statements)
    assert asked >= 1
    for _ in range(50):
        assert resolve(LABEL) is first
    assert len(statements) == asked            # fresh: no query at all
    moments.advance(3)
    assert resolve(LABEL) is first              # refreshed, nothing changed: the same trust
    assert len(statements) > asked
    assert len(opener.opened) == 1              # and the key was opened once


def test_rotation_keeps_the_in_grace_key_and_drops_the_retired_one(app, moments,
                                                                   issuer) -> None:
    with app.app_context():
        old = make_version(SPEC, issuer)        # RSA-OAEP-256: the default managed key
    (old_kid,) = kids(old)
    opener = Opener()
    resolve = resolver_for(app, moments, opener)
    service = build_validator(app, decisions="each", resolver=resolve)
    now = int(moments.now.timestamp())
    before = mint(issuer, old, now=now)
    assert call(service.app, before.token).status == 204
    assert resolve.opened_kids() == {old_kid}

    with app.app_context():
        keys.rotate_key("orders", "1.0.0", 600, actor=TESTER, now=moments.now)
        both = public_jwks()
    (new_kid,) = kids(both) - {old_kid}
    moments.advance(3)                          # the resolution is refreshed (ttl 2 s)
    in_grace = mint(issuer, both, kid=old_kid, now=int(moments.now.timestamp()))
    assert call(service.app, in_grace.token).status == 204     # the in-grace key decrypts
    current = mint(issuer, both, kid=new_kid, now=int(moments.now.timestamp()))
    assert call(service.app, current.token).status == 204
    assert resolve.opened_kids() == {old_kid, new_kid}
    assert opener.opened == [old_kid, new_kid]  # the old key was not opened again

    moments.advance(601)                        # the grace period is over
    late = mint(issuer, both, kid=old_kid, now=int(moments.now.timestamp()))
    answer = call(service.app, late.token)
    assert answer.status == 401 and answer.header("X-Stagegate-Deny").startswith("JWE-")
    assert resolve.opened_kids() == {new_kid}   # and its private key left the memory
    cached = call(service.app, in_grace.token)  # an earlier verification no longer counts
    assert (cached.status, cached.header("X-Stagegate-Deny")) == (401, "JWE-KEY-BOUND")
    fresh = mint(issuer, both, kid=new_kid, now=int(moments.now.timestamp()))
    assert call(service.app, fresh.token).status == 204


def test_a_grace_period_ends_on_time_even_inside_the_resolution_lifetime(app, moments,
                                                                          issuer, ecdh) -> None:
    resolve = resolver_for(app, moments, ttl=3600)
    (old_kid,) = kids(ecdh)
    resolve(LABEL)
    with app.app_context():
        keys.rotate_key("orders", "1.0.0", 30, actor=TESTER, now=moments.now)
    resolve.invalidate(LABEL)
    assert len(resolve(LABEL).decryption_keys["keys"]) == 2
    moments.advance(31)                         # long before the 3600 s lifetime
    trust = resolve(LABEL)
    assert old_kid not in kids(trust.decryption_keys) and len(trust.decryption_keys["keys"]) == 1
    assert old_kid not in resolve.opened_kids()


def test_rotation_without_grace_drops_the_key_at_the_next_refresh(app, moments, issuer,
                                                                  ecdh) -> None:
    resolve = resolver_for(app, moments, ttl=2)
    (old_kid,) = kids(ecdh)
    assert old_kid in kids(resolve(LABEL).decryption_keys)
    with app.app_context():
        keys.rotate_key("orders", "1.0.0", 0, actor=TESTER, now=moments.now)
    assert old_kid in kids(resolve(LABEL).decryption_keys)     # at most ttl seconds late
    moments.advance(2.5)
    assert old_kid not in kids(resolve(LABEL).decryption_keys)
    assert old_kid not in resolve.opened_kids()


def test_a_new_issuer_jwks_and_an_opened_key_lifetime(app, moments, ecdh) -> None:
    opener = Opener()
    resolve = resolver_for(app, moments, opener, ttl=2, key_ttl=60)
    first = resolve(LABEL)
    other = Issuer()
    with app.app_context():
        submit_jwks("orders", "1.0.0", json.dumps(other.jwks()).encode(), actor=TESTER)
    moments.advance(3)
    second = resolve(LABEL)
    assert second is not first and kids(second.issuer_jwks) == {other.kid}
    assert len(opener.opened) == 1
    moments.advance(61)                          # the opened key's lifetime is over
    resolve(LABEL)
    assert len(opener.opened) == 2


@pytest.mark.parametrize("declared", [True, False])
def test_single_use_comes_from_the_declared_profile_and_the_replay_state_from_the_database(
        app, moments, issuer, declared) -> None:
    """Two validators (two processes' worth: own resolvers, caches and stores) over one
    database: a second use of a token is refused by the other one exactly when the version's
    profile says ``single-use: true``; otherwise the token is reused freely and no replay
    state is written."""
    with app.app_context():
        recipient = make_version(SINGLE_USE_SPEC if declared else ECDH_SPEC, issuer)
        first = build_validator(app, decisions="batch")
        second = build_validator(app, decisions="batch")
    try:
        trust = first.resolver(LABEL)
        assert trust is not None and trust.single_use is declared
        assert trust.profile.single_use is declared
        now = int(moments.now.timestamp())
        token = mint(issuer, recipient, now=now)
        assert call(first.app, token.token).status == 204
        again = call(second.app, token.token)
        if declared:
            assert (again.status, again.header("X-Stagegate-Deny")) == (401, "CLM-JTI")
            assert call(first.app, token.token).header("X-Stagegate-Deny") == "CLM-JTI"
        else:
            assert again.status == 204 and call(first.app, token.token).status == 204
        with app.app_context():
            marks = db.session.execute(sa.select(ReplayMark.key)).scalars().all()
        assert marks == ([replay_key(token.claims["iss"], token.claims["jti"])]
                         if declared else [])
    finally:
        first.close()
        second.close()


# ---------------------------------------------------------------------- replay store
def test_the_database_replay_store_is_atomic_and_forgets_expired_ids(app) -> None:
    now = [1_800_000_000]
    with app.app_context():
        store = DbReplayStore(db.engine, lambda: now[0])
        key = replay_key("https://issuer", "jti-1")
        assert store.first_use(key, now[0] + 300)
        assert not store.first_use(key, now[0] + 300)
        now[0] += 301
        assert store.first_use(key, now[0] + 300)          # expired: a new first use
        assert not store.first_use(key, now[0] + 300)
        racing = replay_key("https://issuer", "jti-2")
        results: list[bool] = []
        barrier = threading.Barrier(8)

        def use() -> None:
            barrier.wait()
            results.append(store.first_use(racing, now[0] + 300))

        threads = [threading.Thread(target=use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [False] * 7 + [True]
        now[0] += 10_000
        assert store.purge() == 2
        stored = db.session.execute(sa.select(ReplayMark)).scalars().all()
        assert stored == []


# ---------------------------------------------------------------------- decisions
@pytest.mark.parametrize("mode", ["batch", "each"])
def test_every_decision_is_a_row_with_its_fields_never_the_token(app, moments, issuer,
                                                                 ecdh_single_use, mode,
                                                                 caplog) -> None:
    ecdh = ecdh_single_use
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "lifecycle", "stagegate"):
        caplog.set_level(logging.DEBUG, logger=name)
    with app.app_context():
        service = build_validator(app, decisions=mode)
    now = int(moments.now.timestamp())
    good = mint(issuer, ecdh, now=now, sub="alice", client_id="shop-app")
    bad = mint(issuer, ecdh, now=now - 7200)                    # expired
    forged = tampered(mint(issuer, ecdh, now=now).token)
    assert call(service.app, good.token, address="192.0.2.10").status == 204
    assert call(service.app, good.token).header("X-Stagegate-Deny") == "CLM-JTI"   # replay
    assert call(service.app, bad.token).status == 401
    assert call(service.app, forged).status == 401
    assert call(service.app, None).header("X-Stagegate-Deny") == "GW-NO-TOKEN"
    assert call(service.app, good.token, label="orders/7.0.0").header(
        "X-Stagegate-Deny") == "GW-UNKNOWN-VERSION"
    service.close()
    with app.app_context():
        rows = db.session.execute(sa.select(DecisionEvent).order_by(DecisionEvent.id)
                                  ).scalars().all()
        assert [(r.allowed, r.rule_id) for r in rows] == [
            (True, None), (False, "CLM-JTI"), (False, rows[2].rule_id), (False, rows[3].rule_id),
            (False, "GW-NO-TOKEN"), (False, "GW-UNKNOWN-VERSION")]
        assert rows[2].rule_id.startswith("CLM-") and rows[3].rule_id.startswith("JWE-")
        allow = rows[0]
        (managed_kid,) = kids(ecdh)
        assert allow.at == moments.now and allow.version == LABEL
        assert allow.fingerprint == hashlib.sha256(good.token.encode()).hexdigest()[:16]
        assert allow.jti_hash == replay_key(good.claims["iss"], good.claims["jti"])
        assert (allow.sub, allow.client_id, allow.kid) == ("alice", "shop-app", managed_kid)
        assert (allow.iat, allow.exp) == (good.claims["iat"], good.claims["exp"])
        assert allow.client_address == "192.0.2.10"
        for deny in rows[1:]:
            assert (deny.sub, deny.client_id, deny.kid, deny.jti_hash, deny.iat,
                    deny.exp) == (None,) * 6
        assert rows[1].fingerprint == allow.fingerprint and rows[4].fingerprint is None
        everything = database_text(db.engine)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "INSERT INTO gateway_decision" in logged     # the statement log was captured
    assert leaks(everything, [good, bad]) == [] and forged not in everything
    assert leaks(logged, [good, bad]) == [] and forged not in logged


def test_decision_texts_are_made_storable(app) -> None:
    decision = GatewayDecision(
        at=T0, version="v" * 300, allowed=True, rule_id=None, fingerprint="0" * 16,
        jti_hash="a" * 64, sub="a\x00b\ud800" + "x" * 400, client_id="c", kid="k" * 200,
        iat=1, exp=2, client_address="192.0.2.1")
    row = decision_row(decision)
    assert len(row["version"]) == 256 and len(row["kid"]) == 128
    assert row["sub"].startswith("a\ufffdb?") and len(row["sub"]) == 256
    with app.app_context():
        sink = DbDecisionSink(db.engine, batch=True, interval=0.05)
        sink.record(decision)
        sink.close()
        stored = db.session.execute(sa.select(DecisionEvent)).scalar_one()
        assert stored.sub == row["sub"] and sink.written == 1 and sink.dropped == 0
