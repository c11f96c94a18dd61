"""An audit trail to read: the audit REST and page tests share it."""

from __future__ import annotations

from actorkit import as_actor
from evidencekit import SPEC
from flask import Flask

from lifecycle.catalog import services
from lifecycle.gates import moves


def record_trail(app: Flask) -> Flask:
    """A small audit trail by two people (``dana@example.com``, ``sam@example.com``): APIs
    ``orders`` (1.0.0 and 2.0.0, both with :data:`evidencekit.SPEC`; 1.0.0 moved to
    development) and ``billing`` (1.0.0).  Returns ``app``."""
    dana, sam = as_actor("dana@example.com"), as_actor("sam@example.com")
    with app.app_context():
        services.create_api("orders", "Orders API", actor=dana)
        services.create_api("billing", "Billing API", actor=sam)
        for version in ("1.0.0", "2.0.0"):
            services.create_version("orders", version, actor=dana)
            services.upload_spec("orders", version, SPEC, uploader=sam)
        services.create_version("billing", "1.0.0", actor=sam)
        moves.transition("orders", "1.0.0", "development", actor=sam)
    return app
