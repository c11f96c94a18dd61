"""gateway validator: decision events and the shared replay state of single-use tokens

``gateway_decision`` — one append-only row per validator decision (never the token: its
fingerprint and hashed ``jti``); ``gateway_replay`` — single-use token ids seen by any
validator process, until their ``exp`` (written with INSERT … ON CONFLICT).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-06 21:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gateway_decision',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.String(length=256), nullable=False),
    sa.Column('allowed', sa.Boolean(), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=True),
    sa.Column('fingerprint', sa.String(length=16), nullable=True),
    sa.Column('jti_hash', sa.String(length=64), nullable=True),
    sa.Column('sub', sa.String(length=256), nullable=True),
    sa.Column('client_id', sa.String(length=256), nullable=True),
    sa.Column('kid', sa.String(length=128), nullable=True),
    sa.Column('iat', sa.BigInteger(), nullable=True),
    sa.Column('exp', sa.BigInteger(), nullable=True),
    sa.Column('client_address', sa.String(length=256), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_decision'))
    )
    with op.batch_alter_table('gateway_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_decision_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_decision_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index('ix_gateway_decision_version_at', ['version', 'at'], unique=False)

    op.create_table('gateway_replay',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_gateway_replay'))
    )
    with op.batch_alter_table('gateway_replay', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_replay_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('gateway_replay', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_replay_expires_at'))
    op.drop_table('gateway_replay')
    with op.batch_alter_table('gateway_decision', schema=None) as batch_op:
        batch_op.drop_index('ix_gateway_decision_version_at')
        batch_op.drop_index(batch_op.f('ix_gateway_decision_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_gateway_decision_at'))
    op.drop_table('gateway_decision')
