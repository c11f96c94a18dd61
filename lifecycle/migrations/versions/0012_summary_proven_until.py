"""version_summary.proven_until: until when the version's gateway is enforced and proven

The board's "enforced and proven" badge reads it (no query per card): the current gateway
configuration passes the static checks and the newest proof of it within the evidence age
limit passed — that proof's ``finished_at`` + the limit; ``NULL`` otherwise.  Existing rows
of versions with a proof are marked due (``valid_until = computed_at``), so the periodic
tick recomputes them (and fills the column) within a tick.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proven_until', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE version_summary SET valid_until = computed_at "
               "WHERE version_id IN (SELECT version_id FROM gateway_proof)")


def downgrade():
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.drop_column('proven_until')
