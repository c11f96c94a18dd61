"""Two first gate decisions at once create one signing key, and both records verify with it
(PostgreSQL: SQLite serialises writers and would hide the race).

A third connection holds the audit chain head, so neither decision can commit: both look for
the signing key while neither has committed one, both generate a key, the second insert
waits on the first one's unique index entry.  When the head is released the first commits;
the second's insert fails inside its savepoint and it signs with the committed key instead.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa
from evidencekit import SPEC

from lifecycle import audit, records, services
from lifecycle.extensions import db
from lifecycle.models import GateRecord, SigningKey


def _libpq(app) -> str:
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _waiting_on_locks(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0])


@pytest.mark.postgres
def test_two_first_decisions_at_once_share_one_signing_key(postgres):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API")
        for version in ("1.0.0", "2.0.0"):
            services.create_version("payments", version)
            services.upload_spec("payments", version, SPEC)

    results: list[object] = []

    def promote(version: str) -> None:
        with app.app_context():
            try:
                services.transition("payments", version, "development", actor="ci")
                results.append("ok")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in ("1.0.0", "2.0.0")]
    with psycopg.connect(_libpq(app)) as blocker, \
            psycopg.connect(_libpq(app), autocommit=True) as observer:
        blocker.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks(observer) < 2:
            assert time.monotonic() < deadline, "the two decisions never reached the locks"
            assert all(t.is_alive() for t in threads), results
            time.sleep(0.02)
        blocker.rollback()
        for t in threads:
            t.join(timeout=20)

    assert results == ["ok", "ok"]
    with app.app_context():
        (key,) = db.session.execute(sa.select(SigningKey)).scalars().all()
        rows = db.session.execute(sa.select(GateRecord)).scalars().all()
        jwks = records.public_jwks()
        assert {r.kid for r in rows} == {key.kid} and len(rows) == 2
        for row in rows:
            assert records.verify_record(row.jws, jwks).record["decision"] == "passed"
        assert audit.verify().ok
        generated = [e for e in audit.iter_entries() if e["action"] == "signing_key.generated"]
        assert [e["data"]["kid"] for e in generated] == [key.kid]
