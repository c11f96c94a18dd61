"""The token validator as a service: :func:`make_validator_app` over the Stagegate database.

:func:`build_validator` takes a Flask app made once per process (for its configuration and
its SQLAlchemy engine — nothing else of the web app runs) and wires

* :class:`~lifecycle.gateway.trust.DbTrustResolver` — managed keys, issuer JWKS, profile;
* the replay store — :class:`~lifecycle.gateway.validator.RedisReplayStore` when
  ``VALIDATOR_REPLAY_URI`` is a ``redis://`` / ``rediss://`` / ``unix://`` URI, else
  :class:`~lifecycle.gateway.stores.DbReplayStore` (never memory: several processes share
  it);
* :class:`~lifecycle.gateway.stores.DbDecisionSink` — every decision in
  ``gateway_decision``.

``stagegate validator`` (:mod:`lifecycle.cli`) serves the result with gunicorn
(:mod:`lifecycle.gateway.serve`).  Settings (Flask config, or ``STAGEGATE_<NAME>`` in the
environment; ``VALIDATOR_REPLAY_URI`` is also read from the environment as is):

====================================  =======  ==================================================
setting                               default  meaning
====================================  =======  ==================================================
``VALIDATOR_REPLAY_URI``              —        Redis URI of the replay store (default: database)
``VALIDATOR_TRUST_TTL_SECONDS``       2        seconds a version's trust is reused
``VALIDATOR_KEY_CACHE_SECONDS``       600      seconds an opened private key is kept
``VALIDATOR_CACHE_SIZE``              10000    verified tokens kept per process (0: none)
``VALIDATOR_LEEWAY_SECONDS``          60       clock leeway for ``exp``/``nbf``/``iat`` (≤ 60)
``VALIDATOR_DECISIONS``               batch    ``batch`` (background flusher) or ``each``
                                               (one INSERT per decision, in the request)
====================================  =======  ==================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from wsgiref.types import WSGIApplication

import redis
from flask import Flask

from lifecycle.core.db import utcnow
from lifecycle.core.extensions import db
from lifecycle.evidence.keys import key_encryption_key
from lifecycle.gateway.stores import DbDecisionSink, DbReplayStore
from lifecycle.gateway.trust import KEY_CACHE_SECONDS, TRUST_TTL_SECONDS, DbTrustResolver
from lifecycle.gateway.validator import RedisReplayStore, ReplayStore, make_validator_app

__all__ = ["REDIS_SCHEMES", "ValidatorService", "build_validator"]

#: URI schemes of a Redis replay store
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True, slots=True)
class ValidatorService:
    """A validator wired to the database.

    :ivar app: the WSGI application (``204``/``401`` per ``auth_request`` subrequest).
    :ivar resolver: its trust resolver.
    :ivar replay: its replay store (Redis or the database).
    :ivar sink: its decision sink; :meth:`close` writes what is queued.
    """

    app: WSGIApplication
    resolver: DbTrustResolver
    replay: ReplayStore
    sink: DbDecisionSink

    def close(self) -> None:
        """Write queued decisions and stop the flusher (call at process exit)."""
        self.sink.close()


def _app_clock(app: Flask) -> Callable[[], datetime]:
    """The app's clock (``CLOCK`` setting, else the real UTC time) without an app context."""
    configured = app.config.get("CLOCK")
    if callable(configured):
        return configured  # type: ignore[no-any-return]
    return utcnow


def _replay_store(uri: str | None, engine: object,
                  clock: Callable[[], datetime]) -> ReplayStore:
    if uri:
        if not uri.startswith(REDIS_SCHEMES):
            raise ValueError("VALIDATOR_REPLAY_URI must be a redis://, rediss:// or unix:// "
                             "URI (or unset: the database)")
        client = redis.Redis.from_url(uri, socket_timeout=2, socket_connect_timeout=2)
        return RedisReplayStore(client)
    return DbReplayStore(engine, lambda: clock().timestamp())  # type: ignore[arg-type]


def build_validator(app: Flask, *, replay_uri: str | None = None,
                    decisions: str | None = None,
                    resolver: DbTrustResolver | None = None) -> ValidatorService:
    """The validator over ``app``'s database and settings (see the module docstring).

    :param app: a Stagegate Flask app, made once per process (``create_app()``).
    :param replay_uri: overrides ``VALIDATOR_REPLAY_URI`` (setting, then environment).
    :param decisions: overrides ``VALIDATOR_DECISIONS`` (``batch`` or ``each``).
    :param resolver: a test seam replacing the resolver built from the settings.
    :raises ValueError: a malformed setting.
    """
    config = app.config
    with app.app_context():
        engine = db.engine
    clock = _app_clock(app)
    uri = replay_uri or config.get("VALIDATOR_REPLAY_URI") \
        or os.environ.get("VALIDATOR_REPLAY_URI") or None
    mode = decisions or str(config.get("VALIDATOR_DECISIONS", "batch"))
    if mode not in ("batch", "each"):
        raise ValueError("VALIDATOR_DECISIONS must be batch or each")
    resolver = resolver or DbTrustResolver(
        engine, kek=lambda: key_encryption_key(app), clock=clock,
        ttl=float(config.get("VALIDATOR_TRUST_TTL_SECONDS", TRUST_TTL_SECONDS)),
        key_ttl=float(config.get("VALIDATOR_KEY_CACHE_SECONDS", KEY_CACHE_SECONDS)))
    replay = _replay_store(str(uri) if uri else None, engine, clock)
    sink = DbDecisionSink(engine, batch=mode == "batch")
    wsgi = make_validator_app(
        resolver, clock=clock, replay=replay, sink=sink,
        cache_size=int(config.get("VALIDATOR_CACHE_SIZE", 10_000)),
        leeway=int(config.get("VALIDATOR_LEEWAY_SECONDS", 60)))
    return ValidatorService(wsgi, resolver, replay, sink)
