"""Stagegate web application (Flask): factory, models, stage machine, UI, REST API, CLI."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from flask import Flask


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Create the Stagegate app.

    :param test_config: settings applied last (tests use it for the database URL).
    """
    app = Flask(__name__, instance_relative_config=True)
    from lifecycle.config import configure

    configure(app, dict(test_config) if test_config else None)

    from lifecycle.extensions import csrf, db, htmx, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)

    from lifecycle import errors, jobs

    jobs.init_app(app)
    from lifecycle.api import bp as api_bp
    from lifecycle.web import bp as web_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    errors.register(app)

    from lifecycle import accounts

    accounts.init_app(app)  # last: sessions, authorization and limits cover every route
    return app
