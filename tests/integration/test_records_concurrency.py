"""Two first gate decisions at once create one signing key, and both records verify with it
(PostgreSQL: SQLite serialises writers and would hide the race).

A third connection holds the audit chain head, so neither decision can commit: both look for
the signing key while neither has committed one, both generate a key, the second insert
waits on the first one's unique index entry.  When the head is released the first commits;
the second's insert fails inside its savepoint and it signs with the committed key instead.
"""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from actorkit import TESTER, as_actor
from concurrencykit import outcome, race_behind_lock
from evidencekit import SPEC

from lifecycle import audit
from lifecycle.catalog import services
from lifecycle.core.extensions import db
from lifecycle.gates import moves
from lifecycle.trust import records
from lifecycle.trust.models import GateRecord, SigningKey


@pytest.mark.postgres
def test_two_first_decisions_at_once_share_one_signing_key(postgres):
    app = postgres
    with app.app_context():
        services.create_api("payments", "Payments API", actor=TESTER)
        for version in ("1.0.0", "2.0.0"):
            services.create_version("payments", version, actor=TESTER)
            services.upload_spec("payments", version, SPEC, uploader=TESTER)

    results: list[object] = []

    def promote(version: str) -> None:
        outcome(app, lambda: moves.transition("payments", version, "development",
                                                 actor=as_actor("ci")), results)

    threads = [threading.Thread(target=promote, args=(v,)) for v in ("1.0.0", "2.0.0")]
    race_behind_lock(app, threads, results,
                     lock="SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE",
                     stuck="the two decisions never reached the locks")

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
