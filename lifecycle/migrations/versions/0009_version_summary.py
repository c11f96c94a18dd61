"""version_summary: each version's stored compliance summary (the board reads it)

Rows are filled by ``lifecycle.gates.summary``: on every change that affects a version (in
the change's transaction) and by the periodic tick for versions without one (so an upgraded
database fills in within a tick), whose ``valid_until`` passed, or judged by another pack.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:45:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('version_summary',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('target_stage', sa.String(length=20), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.Column('blocking', sa.Integer(), nullable=False),
    sa.Column('blocking_failed', sa.Integer(), nullable=False),
    sa.Column('blocking_missing', sa.Integer(), nullable=False),
    sa.Column('pack', sa.String(length=200), nullable=False),
    sa.Column('pack_sha256', sa.String(length=64), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('blocking >= 0 AND blocking_failed >= 0 AND blocking_missing >= 0', name=op.f('ck_version_summary_counts_non_negative')),
    sa.ForeignKeyConstraint(['revision_id'], ['spec_revision.id'], name=op.f('fk_version_summary_revision_id_spec_revision')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_version_summary_version_id_api_version')),
    sa.PrimaryKeyConstraint('version_id', name=op.f('pk_version_summary'))
    )
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_version_summary_valid_until'), ['valid_until'], unique=False)


def downgrade():
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_version_summary_valid_until'))
    op.drop_table('version_summary')
