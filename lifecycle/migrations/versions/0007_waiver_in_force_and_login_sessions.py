"""waiver in force and login sessions: one open waiver per rule (partial unique index on
``waiver.ended_at IS NULL``) and server-side sign-in sessions (``login_session``)

Existing data: revoked waivers get ``ended_at = revoked_at``; of several open waivers of one
version and rule (possible before this revision, issue 9.1) all but the newest are revoked
and ended now by ``migration 0007`` (fewer waivers in force: the gate fails closed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN = "ended_at IS NULL"


def upgrade():
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE waiver SET ended_at = revoked_at WHERE revoked_at IS NOT NULL")
    op.execute("UPDATE waiver SET ended_at = CURRENT_TIMESTAMP, revoked_at = CURRENT_TIMESTAMP, "
               "revoked_by = 'migration 0007', "
               "revoke_reason = 'another waiver of this rule was in force (issue 9.1)' "
               "WHERE ended_at IS NULL AND id NOT IN "
               "(SELECT keep FROM (SELECT max(id) AS keep FROM waiver WHERE ended_at IS NULL "
               "GROUP BY version_id, rule_id) AS newest)")
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.create_index('uq_waiver_one_open_per_rule', ['version_id', 'rule_id'],
                              unique=True, sqlite_where=sa.text(OPEN),
                              postgresql_where=sa.text(OPEN))

    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sid_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_login_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('sid_hash', name=op.f('uq_login_session_sid_hash'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))
    op.drop_table('login_session')
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.drop_index('uq_waiver_one_open_per_rule', sqlite_where=sa.text(OPEN),
                            postgresql_where=sa.text(OPEN))
        batch_op.drop_column('ended_at')
