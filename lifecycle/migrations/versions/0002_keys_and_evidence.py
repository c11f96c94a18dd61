"""managed encryption keys, key events, JWKS and sample-token evidence, replay cache

Works on SQLite and PostgreSQL.  At most one ``current`` key per version (partial unique
index on both).  Sealed private keys are BLOB/bytea; nothing here holds key material in clear.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('managed_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=128), nullable=False),
    sa.Column('alg', sa.String(length=32), nullable=False),
    sa.Column('kty', sa.String(length=8), nullable=False),
    sa.Column('crv', sa.String(length=16), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('sealed_private', sa.LargeBinary(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('grace_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('current', 'grace', 'retired')", name=op.f('ck_managed_key_state')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_managed_key_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managed_key')),
    sa.UniqueConstraint('version_id', 'kid', name=op.f('uq_managed_key_version_id_kid'))
    )
    with op.batch_alter_table('managed_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_managed_key_version_id'), ['version_id'], unique=False)
        batch_op.create_index('uq_managed_key_one_current', ['version_id'], unique=True,
                              sqlite_where=sa.text("state = 'current'"),
                              postgresql_where=sa.text("state = 'current'"))

    op.create_table('key_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('generated', 'rotated', 'retired', 'expired')", name=op.f('ck_key_event_kind')),
    sa.ForeignKeyConstraint(['key_id'], ['managed_key.id'], name=op.f('fk_key_event_key_id_managed_key')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_key_event_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_event'))
    )
    with op.batch_alter_table('key_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_event_key_id'), ['key_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_event_version_id'), ['version_id'], unique=False)

    op.create_table('jwks_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=False),
    sa.Column('keys', sa.JSON(), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_jwks_evidence_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jwks_evidence'))
    )
    with op.batch_alter_table('jwks_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jwks_evidence_version_id'), ['version_id'], unique=False)

    op.create_table('token_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('outer_header', sa.JSON(), nullable=True),
    sa.Column('inner_header', sa.JSON(), nullable=True),
    sa.Column('claims', sa.JSON(), nullable=True),
    sa.Column('lifetime', sa.Integer(), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('not_evaluated', sa.JSON(), nullable=False),
    sa.Column('profile', sa.JSON(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('decryption_kid', sa.String(length=128), nullable=True),
    sa.Column('submitted_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_token_evidence_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_token_evidence')),
    sa.UniqueConstraint('version_id', 'fingerprint', name=op.f('uq_token_evidence_version_id_fingerprint'))
    )
    with op.batch_alter_table('token_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_token_evidence_version_id'), ['version_id'], unique=False)

    op.create_table('replay_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replay_entry')),
    sa.UniqueConstraint('key', name=op.f('uq_replay_entry_key'))
    )
    with op.batch_alter_table('replay_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replay_entry_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('replay_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replay_entry_expires_at'))
    op.drop_table('replay_entry')
    with op.batch_alter_table('token_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_evidence_version_id'))
    op.drop_table('token_evidence')
    with op.batch_alter_table('jwks_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jwks_evidence_version_id'))
    op.drop_table('jwks_evidence')
    with op.batch_alter_table('key_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_event_version_id'))
        batch_op.drop_index(batch_op.f('ix_key_event_key_id'))
    op.drop_table('key_event')
    with op.batch_alter_table('managed_key', schema=None) as batch_op:
        batch_op.drop_index('uq_managed_key_one_current')
        batch_op.drop_index(batch_op.f('ix_managed_key_version_id'))
    op.drop_table('managed_key')
