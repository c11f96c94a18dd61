"""Serve the token validator with gunicorn (``stagegate validator``).

:func:`serve_validator` runs gunicorn's arbiter in the calling process with ``workers`` sync
worker processes (the check is CPU-bound: one process per core; ``threads > 1`` selects
``gthread`` workers).  Each worker builds its own validator after the fork
(``factory()``: one Flask app for configuration and the database engine, the trust
resolver, the replay store, the decision sink) — no database connection, thread or opened
key crosses a fork — and writes its queued decisions when it exits (``worker_exit``).

Listening: ``unix:/run/stagegate/validator.sock`` (:data:`DEFAULT_BIND`; the socket gets mode
0660 — put nginx's user in the validator's group) or a loopback ``HOST:PORT``; any other
address is refused unless ``allow_remote`` (the validator answers who may pass: only the
gateway may ask it).  The unix socket is the default: only its owner and group can ask the
validator (any local process can reach a loopback port), and in the same-run benchmark
(docs/benchmark.md) it was never measurably slower than loopback TCP (0.0–0.1 ms lower p50
per first-seen token, within the machine's noise).
No access log (the subrequest carries the token in a header; the decision events are the
log); gunicorn's own control socket is disabled.  Header limits fit nginx's
``large_client_header_buffers 4 16k`` of the generated configuration.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from typing import Any, Protocol
from wsgiref.types import WSGIApplication

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

__all__ = ["DEFAULT_BIND", "KEEPALIVE_SECONDS", "BindError", "check_bind", "check_socket_directory",
           "gunicorn_options", "serve_validator"]

#: where ``stagegate validator`` listens by default, and where ``stagegate gateway render``
#: points nginx by default (its directory is created by the service manager, e.g. systemd's
#: ``RuntimeDirectory=stagegate``)
DEFAULT_BIND = "unix:/run/stagegate/validator.sock"

#: longest header line gunicorn accepts (a 16 KiB nginx header buffer, with room)
MAX_HEADER_FIELD = 20_000
#: where the workers' heartbeat files go when it exists (a tmpfs; gunicorn's advice, as a
#: disk-backed /tmp can stall the heartbeat under load)
HEARTBEAT_DIR = "/dev/shm"
#: seconds a ``gthread`` worker keeps an idle connection from nginx open; longer than the
#: generated configuration's ``keepalive_timeout`` (``render.VALIDATOR_KEEPALIVE_SECONDS``),
#: so that nginx closes idle connections first
KEEPALIVE_SECONDS = 75


class BindError(ValueError):
    """A listening address the validator must not (or cannot) use."""


class Service(Protocol):
    """What a factory returns: a WSGI ``app`` and a ``close()`` for the worker's exit."""

    @property
    def app(self) -> WSGIApplication: ...

    def close(self) -> None: ...


def check_bind(bind: str, *, allow_remote: bool = False) -> str:
    """``bind`` when it is ``unix:/absolute/path`` or a loopback ``HOST:PORT``
    (``127.0.0.1:9100``, ``[::1]:9100``, ``localhost:9100``).

    :raises BindError: malformed, or not loopback without ``allow_remote``.
    """
    if bind.startswith("unix:"):
        path = bind[5:]
        if not path.startswith("/") or "\x00" in path:
            raise BindError("give the socket as unix:/absolute/path")
        return bind
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise BindError("give unix:/path or HOST:PORT (e.g. 127.0.0.1:9100)")
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if allow_remote:
        return bind
    if name == "localhost":
        return bind
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise BindError(f"{host} is not a loopback address: the validator must be reachable "
                        "by the gateway only (use --allow-remote for a separate gateway "
                        "host behind a private network)")
    return bind


def check_socket_directory(bind: str) -> None:
    """For a ``unix:/path`` bind: its directory must exist (gunicorn creates the socket, not
    the directory).  A ``HOST:PORT`` passes.

    :raises BindError: the directory is missing or not a directory.
    """
    if not bind.startswith("unix:"):
        return
    directory = os.path.dirname(bind[5:]) or "/"
    if not os.path.isdir(directory):
        raise BindError(f"the socket's directory {directory} does not exist: create it (owned "
                        "by the validator's user, group nginx's, e.g. systemd "
                        "RuntimeDirectory=stagegate) or give another --bind")


def gunicorn_options(bind: str, workers: int, threads: int = 1,
                     log_level: str = "info") -> dict[str, Any]:
    """The gunicorn settings of the validator (see the module docstring)."""
    return {
        "bind": [bind],
        "workers": max(1, workers),
        "threads": max(1, threads),
        "worker_class": "gthread" if threads > 1 else "sync",
        "umask": 0o117,  # the unix socket: owner and group may connect
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": KEEPALIVE_SECONDS,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": MAX_HEADER_FIELD,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": log_level,
        "proc_name": "stagegate-validator",
        "preload_app": False,
        "control_socket_disable": True,
        # the workers' heartbeat file is touched on every request: keep it in memory
        "worker_tmp_dir": HEARTBEAT_DIR if os.path.isdir(HEARTBEAT_DIR) else None,
    }


class _ValidatorApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn's application: settings from a dict, the app from ``factory`` per worker."""

    def __init__(self, factory: Callable[[], Service], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        self._service: Service | None = None
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self) -> WSGIApplication:
        self._service = self._factory()
        return self._service.app

    def _worker_exit(self, server: object, worker: object) -> None:
        if self._service is not None:
            self._service.close()


def serve_validator(factory: Callable[[], Service], *, bind: str, workers: int,
                    threads: int = 1, log_level: str = "info") -> None:
    """Run gunicorn until it is stopped (SIGTERM/SIGINT: graceful; decisions written).

    :param factory: builds the validator in each worker (after the fork).
    :param bind: a gunicorn address (check it with :func:`check_bind` first).
    :raises SystemExit: gunicorn could not start (its message is on stderr).
    """
    _ValidatorApplication(factory, gunicorn_options(bind, workers, threads, log_level)).run()
