"""The schema the tests run on was built by the migrations; it must match the models."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import lifecycle
from lifecycle.core.extensions import db
from lifecycle.jobs.models import owned_by_stagegate


def test_the_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": owned_by_stagegate})
        assert compare_metadata(context, db.metadata) == []


def test_the_database_is_at_the_single_migration_head(app):
    with app.app_context(), db.engine.connect() as conn:
        heads = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    script = ScriptDirectory(str(Path(lifecycle.__file__).parent / "migrations"))
    assert heads == list(script.get_heads()) and len(heads) == 1
