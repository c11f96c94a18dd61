"""Gunicorn settings for Stagegate's scaled mode (README "Running it for an organisation").

Use it with ``gunicorn -c python:lifecycle.gunicorn_conf wsgi:app``; command-line options
override it.  Environment:

- ``STAGEGATE_BIND`` — listen address (default ``127.0.0.1:8000``; put a TLS-terminating
  proxy in front);
- ``WEB_CONCURRENCY`` — worker processes (default 4; sync workers, one request each);
- ``STAGEGATE_PRELOAD`` — ``1`` to build the app once in the master before forking
  (``--preload``: faster start, shared memory pages).

With ``--preload`` the app, and so its SQLAlchemy engines, exist before the fork; a pooled
database connection opened in the master would then be shared by every worker (two
processes talking over one socket corrupts both sessions).  :func:`post_fork` therefore
disposes every engine of the preloaded app in each new worker with ``close=False`` (the
SQLAlchemy recipe for multiprocessing: the child drops the inherited pool without closing
the parent's sockets) so each worker opens its own connections.  Nothing else is opened at
``create_app`` time: the Redis rate-limit storage connects lazily (and redis-py re-creates
its pool after a fork), and the embedded job thread starts on first use — the scaled mode
uses procrastinate and ``stagegate worker`` instead.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from lifecycle.core.extensions import db
from lifecycle.web.limits import check_workers

bind = os.environ.get("STAGEGATE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
preload_app = os.environ.get("STAGEGATE_PRELOAD", "") in ("1", "true", "yes")
#: seconds a request may take before the master restarts its worker (a document check of
#: the largest accepted upload stays well below it)
timeout = 60
graceful_timeout = 30
#: restart workers now and then, so a slow leak never grows without bound
max_requests = 2000
max_requests_jitter = 200
#: longest request line (method, URL with query, version) in bytes: gunicorn's maximum
#: (its default is 4,094); longer ones get 414, as the contract documents
limit_request_line = 8190
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: Any) -> None:
    """Before the master forks any worker: refuse several workers with in-memory rate-limit
    counters (each worker would count on its own, multiplying every limit; issue 9.3)."""
    check_workers(int(server.cfg.workers), os.environ.get("STAGEGATE_RATELIMIT_STORAGE_URI"))


def dispose_engines(app: Any) -> int:
    """Drop the connection pools ``app`` (a Flask app, else nothing happens) inherited from
    the master, without closing the master's connections; returns how many engines."""
    if not isinstance(app, Flask) or "sqlalchemy" not in app.extensions:
        return 0
    with app.app_context():
        engines = list(db.engines.values())
        for engine in engines:
            engine.dispose(close=False)
    return len(engines)


def post_fork(server: Any, worker: Any) -> None:
    """Gunicorn hook, in each new worker: with ``--preload``, give it its own pools."""
    disposed = dispose_engines(getattr(server.app, "callable", None))
    if disposed:
        server.log.info("worker %s: disposed %d inherited database engine(s)", worker.pid,
                        disposed)
