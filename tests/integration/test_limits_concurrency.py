"""Rate limits that hold under parallel requests, and no lockout of the owner (issue 9.3).

Real parallel requests through a live threaded server: every budget is consumed atomically
*before* the password or code is verified, so N simultaneous wrong guesses cost at most the
limit in verifications (counted at the argon2 hasher and at the second-factor check).  In
memory and in Redis.  An attacker who spends an account's budget on purpose does not lock
its owner out: the owner's browser holds a device cookie with a budget of its own.
"""

from __future__ import annotations

import threading
import uuid
from types import SimpleNamespace

import pyotp
import pytest
import redis
from accountkit import PASSWORD
from livekit import Answer, Browser, live, parallel

from lifecycle import gunicorn_conf
from lifecycle.accounts import services as account_services
from lifecycle.web.limits import MemoryLimitsWithWorkers, check_workers

LIMIT = 5  # the default LOGIN_RATE_LIMIT: 5 per minute;20 per hour
REDIS = "redis://127.0.0.1:6379"


class CountingHasher:
    """The real argon2 hasher, counting verifications (thread-safe)."""

    def __init__(self, real):
        self.real, self.verified, self.lock = real, 0, threading.Lock()

    def verify(self, stored, password):
        with self.lock:
            self.verified += 1
        return self.real.verify(stored, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture(params=["memory", "redis"])
def limited(request, make_app):
    """An app with the default limits, counters in memory or Redis (own key prefix)."""
    prefix = f"stagegate-test-{uuid.uuid4().hex[:8]}"
    settings = {"RATELIMIT_KEY_PREFIX": prefix}
    if request.param == "redis":
        settings["RATELIMIT_STORAGE_URI"] = REDIS
    yield make_app(**settings)
    if request.param == "redis":
        server = redis.Redis.from_url(REDIS)
        for key in server.keys(f"*{prefix}*"):
            server.delete(key)


def statuses(answers) -> list[object]:
    return sorted((a.status if isinstance(a, Answer) else repr(a) for a in answers), key=str)


def test_parallel_wrong_passwords_verify_at_most_the_limit(limited, auth, monkeypatch):
    hasher = CountingHasher(account_services._hasher)
    monkeypatch.setattr(account_services, "_hasher", hasher)
    user = auth.user("viewer")
    with live(limited) as base:
        answers = parallel([lambda: Browser(base).request(
            "POST", "/login", form={"email": user.email, "password": "wrong password!"})
            for _ in range(60)])
    assert set(statuses(answers)) == {422, 429}, answers
    assert statuses(answers).count(422) == hasher.verified
    assert 1 <= hasher.verified <= LIMIT


def test_parallel_wrong_second_factor_codes_check_at_most_the_limit(limited, auth, monkeypatch):
    user = auth.user("approver")
    checked = CountingHasher(None)
    real = account_services.verify_second_factor

    def counting(who, code):
        with checked.lock:
            checked.verified += 1
        return real(who, code)

    monkeypatch.setattr(account_services, "verify_second_factor", counting)
    wrong = "000000" if pyotp.TOTP(user.test_totp_secret).now() != "000000" else "111111"
    with live(limited) as base:
        browser = Browser(base)
        first = browser.request("POST", "/login", form={"email": user.email,
                                                        "password": PASSWORD})
        assert first.status == 303 and "second-factor" in first.headers["Location"]
        answers = parallel([lambda: browser.request("POST", "/login/second-factor",
                                                    form={"code": wrong})
                            for _ in range(200)])
    assert set(statuses(answers)) == {422, 429}, answers
    assert 1 <= checked.verified <= LIMIT


def test_an_attacker_spending_the_account_budget_does_not_lock_the_owner_out(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    victim = auth.user("viewer")
    owner = app.test_client(user=None)
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert owner.post("/login", data={"email": victim.email, "password": PASSWORD}) \
        .status_code == 303  # an earlier visit: the browser has the device cookie
    assert owner.post("/logout").status_code == 303
    attacker = app.test_client(user=None)
    for n in range(3 * LIMIT):
        attacker.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        attacker.post("/login", data={"email": victim.email, "password": f"guess {n}"})
    stranger = app.test_client(user=None)
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    refused = stranger.post("/login", data={"email": victim.email, "password": PASSWORD})
    assert refused.status_code == 429  # the account's budget for unknown browsers is spent
    back = owner.post("/login", data={"email": victim.email, "password": PASSWORD})
    assert back.status_code == 303  # ... but the owner's browser still signs in
    assert owner.get("/account").status_code == 200


def test_a_forged_device_cookie_gets_no_budget_of_its_own(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    victim = auth.user("viewer")
    attacker = app.test_client(user=None)
    attacker.set_cookie("sg_device", "forged.value", path="/login")
    for n in range(LIMIT):
        attacker.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        assert attacker.post("/login", data={"email": victim.email, "password": "x"}) \
            .status_code == 422
    attacker.environ_base["REMOTE_ADDR"] = "198.51.100.99"
    assert attacker.post("/login", data={"email": victim.email, "password": "x"}) \
        .status_code == 429


def test_the_password_change_is_rate_limited(make_app, auth):
    app = make_app(RATELIMIT_KEY_PREFIX=f"t-{uuid.uuid4().hex[:8]}")
    user = auth.user("viewer")
    browser = app.test_client(user=None)
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}) \
        .status_code == 303
    new = PASSWORD + " renewed"
    for _ in range(LIMIT):
        assert browser.post("/account/password", data={
            "current": "not it at all", "new": new, "confirm": new}).status_code == 422
    refused = browser.post("/account/password", data={"current": PASSWORD, "new": new,
                                                      "confirm": new})
    assert refused.status_code == 429


def test_several_workers_with_in_memory_counters_refuse_to_start(make_app, monkeypatch):
    with pytest.raises(MemoryLimitsWithWorkers):
        check_workers(4, "memory://")
    with pytest.raises(MemoryLimitsWithWorkers):
        check_workers(2, None)
    check_workers(1, "memory://")
    check_workers(4, REDIS)
    master = SimpleNamespace(cfg=SimpleNamespace(workers=4))
    monkeypatch.delenv("STAGEGATE_RATELIMIT_STORAGE_URI", raising=False)
    with pytest.raises(MemoryLimitsWithWorkers):
        gunicorn_conf.on_starting(master)
    monkeypatch.setenv("STAGEGATE_RATELIMIT_STORAGE_URI", REDIS)
    gunicorn_conf.on_starting(master)
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with pytest.raises(MemoryLimitsWithWorkers):
        make_app(RATELIMIT_STORAGE_URI="memory://")
    assert make_app(RATELIMIT_STORAGE_URI=REDIS) is not None


