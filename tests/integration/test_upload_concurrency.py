"""Simultaneous uploads to one version and simultaneous failed sign-ins (issue 9.4).

Real parallel requests through a live threaded server: twenty different documents uploaded
to one version at once each become a revision (numbers 1..20, no gaps, no duplicates) or get
a clean 409 — never a 500; twenty failed sign-ins at once each answer the refusal and each
leave one audit entry in one intact chain.  SQLite and (``TEST_DATABASE_URL``) PostgreSQL.
"""

from __future__ import annotations

from accountkit import DEVELOPER_EMAIL
from evidencekit import SPEC
from livekit import Answer, Browser, live, parallel

from lifecycle import audit

V = "/api/v1/apis/orders/versions/1.0.0"
PARALLEL = 20


def _document(i: int) -> bytes:
    return SPEC.replace(b"title:", f"x-upload: {i}\n  title:".encode(), 1)


def test_parallel_uploads_to_one_version_never_answer_500(app, client, auth):
    client.post("/api/v1/apis", json={"name": "orders", "title": "Orders", "team": "shop"})
    assert client.post("/api/v1/apis/orders/versions", json={"version": "1.0.0"}).status_code == 201
    docs = [_document(i) for i in range(PARALLEL)]
    assert len(set(docs)) == PARALLEL
    header = {"Authorization": f"Bearer {auth.token(DEVELOPER_EMAIL)}",
              "Content-Type": "application/yaml"}
    with live(app) as base:
        answers = parallel([lambda d=d: Browser(base).request("PUT", V + "/spec", data=d,
                                                              headers=header) for d in docs])
    statuses = [a.status if isinstance(a, Answer) else repr(a) for a in answers]
    assert set(statuses) <= {201, 409}, answers
    created = statuses.count(201)
    assert created >= 1
    revisions = client.get(V).get_json()["revisions"]
    assert sorted(r["number"] for r in revisions) == list(range(1, created + 1))
    with app.app_context():
        assert audit.verify().ok


def test_parallel_failed_sign_ins_never_answer_500(app, make_app, auth):
    roomy = make_app(LOGIN_RATE_LIMIT="1000 per minute")
    user = auth.user("viewer")
    with live(roomy) as base:
        answers = parallel([lambda: Browser(base).request(
            "POST", "/login", form={"email": user.email, "password": "wrong"})
            for _ in range(PARALLEL)])
    assert [a.status if isinstance(a, Answer) else repr(a) for a in answers] == \
        [422] * PARALLEL, answers
    with roomy.app_context():
        assert audit.verify().ok
        failed = [e for e in audit.export_lines() if '"user.login_failed"' in e]
    assert len(failed) == PARALLEL
