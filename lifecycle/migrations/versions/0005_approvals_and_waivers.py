"""approvals and waivers: promotion requests, approvals (four eyes), time-boxed waivers

At most one pending promotion request per version (partial unique index on both SQLite and
PostgreSQL); one decision per approver and request.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('promotion_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=False),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=320), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('required_approvals', sa.Integer(), nullable=False),
    sa.Column('check_run_id', sa.Integer(), nullable=False),
    sa.Column('transition_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'superseded', 'blocked')", name=op.f('ck_promotion_request_state')),
    sa.CheckConstraint("from_stage IN ('design', 'development', 'testing', 'deployment', 'retirement')", name=op.f('ck_promotion_request_from_stage')),
    sa.CheckConstraint("to_stage IN ('design', 'development', 'testing', 'deployment', 'retirement')", name=op.f('ck_promotion_request_to_stage')),
    sa.CheckConstraint('required_approvals >= 1', name=op.f('ck_promotion_request_required_positive')),
    sa.ForeignKeyConstraint(['check_run_id'], ['check_run.id'], name=op.f('fk_promotion_request_check_run_id_check_run')),
    sa.ForeignKeyConstraint(['transition_id'], ['transition.id'], name=op.f('fk_promotion_request_transition_id_transition')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_promotion_request_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotion_request'))
    )
    with op.batch_alter_table('promotion_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotion_request_version_id'), ['version_id'], unique=False)
        batch_op.create_index('uq_promotion_request_one_pending', ['version_id'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"),
                              postgresql_where=sa.text("state = 'pending'"))

    op.create_table('approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('approver', sa.String(length=320), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("decision IN ('approve', 'reject')", name=op.f('ck_approval_decision')),
    sa.ForeignKeyConstraint(['request_id'], ['promotion_request.id'], name=op.f('fk_approval_request_id_promotion_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval')),
    sa.UniqueConstraint('request_id', 'approver', name='uq_approval_request_id_approver')
    )
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approval_request_id'), ['request_id'], unique=False)

    op.create_table('waiver',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('granted_by', sa.String(length=320), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=320), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_waiver_expires_after_grant')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_waiver_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiver'))
    )
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waiver_version_id'), ['version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('waiver', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waiver_version_id'))
    op.drop_table('waiver')
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_request_id'))
    op.drop_table('approval')
    with op.batch_alter_table('promotion_request', schema=None) as batch_op:
        batch_op.drop_index('uq_promotion_request_one_pending',
                            sqlite_where=sa.text("state = 'pending'"),
                            postgresql_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_promotion_request_version_id'))
    op.drop_table('promotion_request')
