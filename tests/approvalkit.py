"""Helpers for promotions that need four-eyes approval: request with one client, approve as
a second approver (a new user with the approver role, second factor enrolled).  Import as
``from approvalkit import ...`` (``tests/`` is on the path, like ``evidencekit``).
"""

from __future__ import annotations

from typing import Any

from accountkit import access_token_for, make_user
from evidencekit import Issuer, gateway_proven, new_version

from lifecycle.accounts.services import user_by_email
from lifecycle.core.extensions import db

#: the second approver's email (created on first use)
SECOND_APPROVER = "second-approver@stagegate.test"


def bearer_for(app: Any, email: str, roles: tuple[str, ...] = ("approver",)) -> dict[str, str]:
    """An ``Authorization`` header for the user ``email`` (created with ``roles`` when
    missing)."""
    with app.app_context():
        if user_by_email(email) is None:
            make_user(email, roles)
            db.session.commit()
        return {"Authorization": f"Bearer {access_token_for(email)}"}


def request_promotion(client: Any, version_url: str, stage: str = "deployment",
                      reason: str = "Release", headers: dict[str, str] | None = None) -> Any:
    """``POST {version_url}/promotion-requests``; the response."""
    return client.post(f"{version_url}/promotion-requests", json={"to": stage, "reason": reason},
                       headers=headers or {})


def approve(client: Any, version_url: str, request_id: int, comment: str = "Looks good",
            approver: str = SECOND_APPROVER) -> Any:
    """Approve request ``request_id`` as ``approver``; the response."""
    return client.post(f"{version_url}/promotion-requests/{request_id}/approve",
                       json={"comment": comment},
                       headers=bearer_for(client.application, approver))


def promote_with_approval(client: Any, version_url: str, stage: str = "deployment") -> Any:
    """Request the promotion as ``client``'s user and approve it as a second approver; the
    approval's response (200 with ``transition`` when it went through)."""
    requested = request_promotion(client, version_url, stage)
    assert requested.status_code == 201, requested.get_data(as_text=True)
    return approve(client, version_url, requested.get_json()["id"])


def deployment_ready(client: Any, now_unix: int, name: str = "orders",
                     team: str = "Checkout") -> str:
    """Create ``{name}@1.0.0`` (owned by ``team``) in testing with everything its deployment
    gate needs (good spec, managed key, issuer JWKS, a sample token analysed at
    ``now_unix``, a generated gateway configuration with a passing proof); returns the
    version's REST URL."""
    url = new_version(client, name=name, team=team, stages=("development", "testing"))
    assert client.post(url + "/keys").status_code == 201
    issuer = Issuer()
    assert client.put(url + "/evidence/jwks", json=issuer.jwks()).status_code in (200, 201)
    token = issuer.token(client.get(url + "/jwks.json").get_json(), now=now_unix)
    assert client.post(url + "/evidence/tokens", json={"token": token}).status_code == 201
    gateway_proven(client, url)
    assert client.get(url + "/compliance").get_json()["passed"] is True
    return url
