"""Configuration defaults. Override with ``STAGEGATE_*`` environment variables or
``DATABASE_URL``; tests pass a mapping to :func:`lifecycle.app.create_app`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

MIB = 1024 * 1024

DEFAULTS: dict[str, object] = {
    # Upload limits (bytes / nodes).  MAX_CONTENT_LENGTH makes Werkzeug answer 413.
    "SPEC_MAX_BYTES": 25 * MIB,
    "SPEC_MAX_DEPTH": 256,
    "SPEC_MAX_ALIAS_EXPANSION": 100_000,
    # web uploads larger than this are checked by a background job (None: never)
    "SPEC_ASYNC_BYTES": MIB,
    "POLICY_PACK": "default",
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "WTF_CSRF_TIME_LIMIT": None,
    # accounts and sessions (lifecycle/accounts, lifecycle/core/security.py)
    "SESSION_COOKIE_SECURE": None,  # None: on when PREFERRED_URL_SCHEME is https
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_MINUTES": 720,
    "RATELIMIT_STORAGE_URI": "memory://",  # or e.g. redis://127.0.0.1:6379
    "LOGIN_RATE_LIMIT": "5 per minute;20 per hour",
    "TOKEN_RATE_LIMIT": "30 per minute",
    # the app's own access tokens (lifecycle/accounts/apitokens.py)
    "TOKEN_ISSUER": "http://127.0.0.1:5000",
    "API_AUDIENCE": None,  # None: TOKEN_ISSUER + /api/v1
    "ACCESS_TOKEN_SECONDS": 600,
    "PAT_MAX_DAYS": 365,
    "TOTP_ISSUER": "Stagegate",
    # evidence, keys and waivers (lifecycle/evidence/services.py, keys.py, waivers.py)
    "TOKEN_EVIDENCE_MAX_AGE_DAYS": 30,
    "KEY_MAX_GRACE_SECONDS": 90 * 24 * 3600,
    "WAIVER_MAX_DAYS": 90,
    # embedded mode: seconds between periodic ticks of the job thread (0: none);
    # on PostgreSQL procrastinate's periodic task runs every minute in `stagegate worker`
    "JOBS_TICK_SECONDS": 60,
    # the board's read cache (lifecycle/review/board_cache.py): longest an entry is served,
    # seconds (0: off); a committed change invalidates it at once in every process
    "BOARD_CACHE_SECONDS": 30,
}


def configure(app: Flask, test_config: dict[str, object] | None) -> None:
    """Apply defaults, then environment, then ``test_config`` (the Flask tutorial order)."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("STAGEGATE")
    if "DATABASE_URL" in os.environ:
        app.config["SQLALCHEMY_DATABASE_URI"] = _normalise_db_url(os.environ["DATABASE_URL"])
    if test_config:
        app.config.update(test_config)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI", f"sqlite:///{Path(app.instance_path) / 'stagegate.sqlite'}"
    )
    if str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # SQLite has one writer at a time; the others wait for the write lock (up to
        # SQLITE_BUSY_SECONDS) instead of failing with "database is locked" after pysqlite's
        # default 5 s when many requests write at once.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("timeout", float(app.config.get("SQLITE_BUSY_SECONDS", 30)))
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    # Werkzeug refuses larger bodies with 413 before any view runs (a little room for form
    # fields around an uploaded file).
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["SPEC_MAX_BYTES"]) + MIB
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _normalise_db_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance: Path) -> str:
    """Secret key kept in the instance folder (created on first run, mode 0600)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()
