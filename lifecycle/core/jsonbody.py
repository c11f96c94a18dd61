"""Every JSON request body is read here: strict and depth-limited (one place).

:class:`StrictJSONProvider` replaces Flask's JSON provider for *parsing* (``request.json``,
``request.get_json``): :func:`specs.strictjson.loads` refuses duplicate member names,
``NaN``/``Infinity`` and nesting deeper than ``JSON_MAX_DEPTH`` (default 64) — the nesting
is measured by a linear scan before parsing, so a body of 100,000 ``[`` never reaches
Python's recursive parser (which would raise ``RecursionError``, a 500).  Answers are
still serialised by Flask's default provider.

:class:`StagegateRequest` turns a refused body into a 400 ``bad_request``
(:class:`~lifecycle.core.errors.ApiError`, the API's error shape) when the view asked for
it (``get_json(silent=False)``); with ``silent=True`` a refused body reads as ``None``.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Flask, Request, current_app
from flask.json.provider import DefaultJSONProvider

from lifecycle.core.errors import ApiError
from specs import strictjson

#: default deepest nesting of a JSON request body (config ``JSON_MAX_DEPTH``)
DEFAULT_MAX_DEPTH = strictjson.DEFAULT_MAX_DEPTH


def max_depth(app: Any = None) -> int:
    """``JSON_MAX_DEPTH`` of ``app`` (default: the current app; default 64)."""
    config = (app if app is not None else current_app).config
    return int(config.get("JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`specs.strictjson.loads` for parsing."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; :raises ValueError: (incl. ``TooDeep``, ``DuplicateMember``)."""
        limit = max_depth(self._app)
        try:
            return strictjson.loads(s, max_depth=limit)
        except RecursionError:  # only if JSON_MAX_DEPTH exceeds the interpreter's limit
            raise strictjson.TooDeep(limit) from None


class StagegateRequest(Request):
    """The app's request class: an unreadable JSON body is a 400 in the API's shape."""

    def on_json_loading_failed(self, e: ValueError | None) -> NoReturn:
        """:raises ApiError: 400 ``bad_request`` saying why the body is not readable."""
        if e is None:
            raise ApiError(415, "unsupported_media_type",
                           "Send a JSON object with Content-Type: application/json.")
        reason = str(e)[:200]
        raise ApiError(400, "bad_request", f"The request body is not valid JSON: {reason}.",
                       {"max_depth": max_depth()} if isinstance(e, strictjson.TooDeep)
                       else None)


def init_app(app: Flask) -> None:
    """Install the strict provider and the request class on ``app``."""
    app.json = StrictJSONProvider(app)
    app.request_class = StagegateRequest
