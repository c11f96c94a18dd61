"""Issue 7.3: creating an API or a version through the web form and through the REST API
records the signed-in user as the actor (never ``anonymous``)."""

from __future__ import annotations

from lifecycle.audit.models import AuditEntry
from lifecycle.core.extensions import db


def _actors(app, action: str) -> list[str]:
    with app.app_context():
        stmt = db.select(AuditEntry.actor).where(AuditEntry.action == action)
        return list(db.session.execute(stmt).scalars())


def test_web_forms_record_the_signed_in_user(app, auth):
    developer = auth.client("developer", teams=("shop",))
    r = developer.post("/apis", data={"name": "orders", "title": "Orders", "team": "shop"})
    assert r.status_code == 303, r.text
    r = developer.post("/apis/orders/versions", data={"version": "1.0.0"})
    assert r.status_code == 303, r.text
    r = developer.post("/versions", data={"api": "orders", "version": "1.1.0"})
    assert r.status_code == 303, r.text

    email = developer.user_email
    assert _actors(app, "api.created") == [email]
    assert _actors(app, "version.created") == [email, email]


def test_rest_calls_record_the_user_behind_the_token(app, auth):
    developer = auth.client("developer", teams=("shop",))
    r = developer.post("/api/v1/apis", json={"name": "orders", "title": "Orders",
                                             "team": "shop"})
    assert r.status_code == 201, r.text
    r = developer.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    assert r.status_code == 201, r.text

    email = developer.user_email
    assert _actors(app, "api.created") == [email]
    assert _actors(app, "version.created") == [email]
    assert "anonymous" not in _actors(app, "api.created") + _actors(app, "version.created")


def test_the_transition_records_the_same_user_as_the_upload(app, auth, demo_spec):
    developer = auth.client("developer", teams=("shop",))
    developer.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    developer.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"})
    r = developer.put("/api/v1/apis/orders/versions/1.0.0/spec", data=demo_spec("payments.yaml"),
                      content_type="application/yaml")
    assert r.status_code in (200, 201), r.text
    r = developer.post("/api/v1/apis/orders/versions/1.0.0/transitions",
                       json={"to": "development"})
    assert r.status_code == 201, r.text
    email = developer.user_email
    assert _actors(app, "spec.uploaded") == [email]
    assert _actors(app, "transition.promotion") == [email]
