"""A revision is stored as a difference from the version's current revision (issue 10):
only the bytes that changed are written, and reading it gives the exact uploaded bytes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from actorkit import TESTER, as_actor

from lifecycle.catalog import services
from lifecycle.catalog.models import MAX_DELTA_DEPTH, SpecRevision, StoredBytesCorrupt
from lifecycle.core.extensions import db

ALICE = as_actor("alice")


def _document(descriptions: int = 60, marker: str = "first") -> bytes:
    paths = {f"/items/{i}": {"get": {"description": f"item {i}",
                                     "responses": {"200": {"description": "OK"}}}}
             for i in range(descriptions)}
    paths["/items/0"]["get"]["description"] = marker
    return json.dumps({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
                       "paths": paths}, indent=2).encode()


@pytest.fixture
def version(app):
    with app.app_context():
        services.SECTION_MEMOS.clear()
        services.create_api("orders", "Orders", actor=TESTER)
        services.create_version("orders", "1.0.0", actor=TESTER)
        yield


def _upload(raw: bytes) -> SpecRevision:
    revision, created = services.upload_spec("orders", "1.0.0", raw, uploader=ALICE)
    assert created
    return revision


def _fresh(number: int) -> SpecRevision:
    """Revision ``number`` read back from the database (nothing kept in the session)."""
    db.session.expire_all()
    return db.session.execute(sa.select(SpecRevision).where(
        SpecRevision.number == number)).scalar_one()


def test_a_one_operation_revision_stores_only_what_changed(version):
    first, second = _document(marker="first"), _document(marker="second, revised")
    base = _upload(first)
    revision = _upload(second)
    stored = _fresh(revision.number)
    assert stored.delta_of_id == base.id and stored.delta_depth == 1
    assert len(stored.stored) < 40 < len(second) // 50
    assert stored.delta_prefix is not None and stored.delta_suffix is not None
    assert stored.delta_prefix + len(stored.stored) + stored.delta_suffix == len(second)
    assert stored.raw == second and stored.size == len(second)
    assert _fresh(base.number).raw == first and _fresh(base.number).delta_of_id is None


def test_every_revision_of_a_long_chain_reads_back_exactly(version):
    uploaded = [_document(marker=f"revision {n}") for n in range(MAX_DELTA_DEPTH + 4)]
    for raw in uploaded:
        _upload(raw)
    depths = []
    for number, raw in enumerate(uploaded, start=1):
        stored = _fresh(number)
        assert stored.raw == raw
        depths.append(stored.delta_depth)
    # at most MAX_DELTA_DEPTH differences between a revision and one stored whole
    assert depths == [*range(MAX_DELTA_DEPTH + 1), 0, 1, 2]


def test_without_the_previous_bytes_in_this_process_a_revision_is_stored_whole(version):
    _upload(_document(marker="first"))
    services.SECTION_MEMOS.clear()  # e.g. another worker process took the upload
    second = _document(marker="second")
    stored = _fresh(_upload(second).number)
    assert stored.delta_of_id is None and bytes(stored.stored) == second


def test_a_revision_that_changes_most_bytes_is_stored_whole(version):
    _upload(_document(marker="first"))
    other = _document(descriptions=10, marker="x" * 5000)
    stored = _fresh(_upload(other).number)
    assert stored.delta_of_id is None and stored.raw == other


def test_a_yaml_revision_is_stored_as_a_difference_too(version, demo_spec):
    raw = demo_spec("payments.yaml")
    _upload(raw)
    changed = raw.replace(b"title: ", b"title: Revised ", 1)
    assert changed != raw
    stored = _fresh(_upload(changed).number)
    assert stored.delta_depth == 1 and stored.raw == changed


def test_bytes_that_do_not_rebuild_to_their_sha256_are_refused(version):
    _upload(_document(marker="first"))
    revision = _upload(_document(marker="second"))
    # what a damaged database would hold (the ORM refuses to change a revision)
    db.session.execute(sa.text("UPDATE spec_revision SET raw = :raw WHERE id = :id"),
                       {"raw": b"tampered", "id": revision.id})
    db.session.commit()
    with pytest.raises(StoredBytesCorrupt, match="does not rebuild to its recorded SHA-256"):
        _ = _fresh(revision.number).raw


def test_after_a_revert_the_next_revision_differs_from_the_bytes_last_checked(version):
    first, second = _document(marker="first"), _document(marker="second")
    _upload(first)
    held = _upload(second)
    again, created = services.upload_spec("orders", "1.0.0", first, uploader=ALICE)
    assert not created and again.number == 1  # a revert: revision 1 is current again
    third = _document(marker="second, then third")
    stored = _fresh(_upload(third).number)
    assert stored.delta_of_id == held.id and stored.delta_depth == 2
    assert stored.raw == third
