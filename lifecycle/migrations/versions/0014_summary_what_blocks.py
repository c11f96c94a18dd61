"""version_summary: what blocks, in the board's words (issue 9 point 14)

``failing_rules`` — distinct rules with a blocking fail/error finding; ``missing_evidence`` —
the evidence kinds whose absence blocks (space-separated).  The board says "Blocked · missing
token and JWKS evidence, 3 failing rules" instead of counting every waiting rule as a
finding.  Existing rows are removed: the periodic tick recomputes every version without a
summary (the board shows "Being checked" until then, at most a tick).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM version_summary")
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failing_rules', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('missing_evidence', sa.String(length=200),
                                      server_default='', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_version_summary_failing_rules_non_negative'),
                                         'failing_rules >= 0')


def downgrade():
    with op.batch_alter_table('version_summary', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_version_summary_failing_rules_non_negative'),
                                 type_='check')
        batch_op.drop_column('missing_evidence')
        batch_op.drop_column('failing_rules')
