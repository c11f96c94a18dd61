"""The composition root of the Stagegate web application (Flask).

:func:`create_app` wires the feature packages (``core`` → ``audit`` → ``accounts`` →
``catalog`` → ``evidence`` / ``trust`` → ``gates`` → ``review``) to the entrypoints (``web``,
``api``, CLI): it registers every blueprint, error handler and evidence provider explicitly.
``docs/ARCHITECTURE.md`` draws the allowed dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from lifecycle import api, jobs, web
from lifecycle.accounts import apitokens, authz, sessions
from lifecycle.api.errors import domain_error_json, spec_error_json
from lifecycle.catalog import tasks as catalog_tasks
from lifecycle.catalog.models import Api
from lifecycle.catalog.spec_evidence import SpecProvider
from lifecycle.cli_accounts import teams_group, tokens_group, users_group
from lifecycle.core import jsonbody, routing, security
from lifecycle.core.config import configure
from lifecycle.core.errors import DomainError
from lifecycle.core.extensions import csrf, db, htmx, migrate
from lifecycle.evidence.providers import JwksProvider, TokenProvider
from lifecycle.gates import providers, summary
from lifecycle.gates.providers import EvidenceProvider
from lifecycle.gateway.provider import GatewayProvider
from lifecycle.review import board_cache
from lifecycle.web.errors import domain_error_page, spec_error_page, wants_json
from lifecycle.web.errors import register as register_web_errors
from lifecycle.web.limits import install_limits, login_manager
from specs import SpecLoadError


def evidence_providers() -> list[EvidenceProvider]:
    """The gate's evidence providers (one per evidence kind; a new kind is added here and its
    rules listed in the policy pack).  ``gateway``: the configuration's findings and its
    proof (:mod:`lifecycle.gateway.services`)."""
    return [SpecProvider(), JwksProvider(), TokenProvider(), GatewayProvider()]


#: modules whose import registers job tasks (``@jobs.task``); listed so the import is explicit
TASK_MODULES = (catalog_tasks,)


def _find_api(name: str) -> Api | None:
    return db.session.execute(db.select(Api).where(Api.name == name)).scalar_one_or_none()


def _domain_error(exc: DomainError) -> Any:
    """Domain errors: the REST API's JSON under ``/api/``, the web's page elsewhere."""
    return domain_error_json(exc) if wants_json() else domain_error_page(exc)


def _spec_error(exc: SpecLoadError) -> Any:
    return spec_error_json(exc) if wants_json() else spec_error_page(exc)


def create_app(test_config: Mapping[str, object] | None = None) -> Flask:
    """Create the Stagegate app.

    :param test_config: settings applied last (tests use it for the database URL).
    """
    app = Flask(__name__, instance_relative_config=True)
    configure(app, dict(test_config) if test_config else None)
    jsonbody.init_app(app)  # every JSON body: strict, depth-limited, 400 when refused
    routing.init_app(app)  # <int:id> bounded to the id columns' range (before any blueprint)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    providers.register(app, evidence_providers())
    jobs.init_app(app)  # procrastinate on PostgreSQL, a background thread on SQLite
    summary.install()  # compliance summaries refreshed in every transaction that affects them
    board_cache.install()  # the board's cache generation follows every committed change

    web_bp, accounts_bp = web.blueprints()
    app.register_blueprint(api.blueprint())
    app.register_blueprint(web_bp)
    app.register_blueprint(accounts_bp)
    register_web_errors(app)  # HTTP errors: pages and fragments; JSON under /api/
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(SpecLoadError, _spec_error)

    # sessions, security headers, bearer tokens, authorization and limits cover every route
    login_manager.init_app(app)
    login_manager.user_loader(sessions.load_user)
    security.init_app(app)
    apitokens.init_app(app)
    app.before_request(sessions.check)
    authz.init_app(app, find_api=_find_api)  # after sessions.check: expired = anonymous
    install_limits(app)
    app.cli.add_command(users_group)
    app.cli.add_command(teams_group)
    app.cli.add_command(tokens_group)
    return app
