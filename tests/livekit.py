"""Real parallel requests: the app behind a threaded Werkzeug server on a free port, and
threads that each send one request through a socket (``urllib``), released together.

Imported like the other kits (``from livekit import live, parallel``); nothing here is a
fixture.  Each request runs in its own server thread with its own database session, as under
gunicorn's threads; on PostgreSQL the transactions really overlap.
"""

from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import make_server


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers, body text."""

    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> object:
        return json.loads(self.text)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A cookie-keeping HTTP client of a live server that never follows redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def request(self, method: str, path: str, *, form: Mapping[str, str] | None = None,
                json_body: object = None, data: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Answer:
        sent = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=sent)
        try:
            with self.opener.open(req, timeout=120) as resp:
                text = resp.read().decode("utf-8", "replace")
                return Answer(resp.status, dict(resp.headers), text)
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers), err.read().decode("utf-8", "replace"))


@contextmanager
def live(app: Flask) -> Iterator[str]:
    """Serve ``app`` (threaded) on 127.0.0.1 and a free port; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def parallel(calls: list[Callable[[], Answer]]) -> list[Answer | BaseException]:
    """Run every call in its own thread, released together by a barrier; the answers (or the
    exception a call raised) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[Answer | BaseException | None] = [None] * len(calls)

    def run(i: int, call: Callable[[], Answer]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return [r if r is not None else TimeoutError("no answer") for r in results]
