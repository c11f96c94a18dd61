"""gateway evidence: per-version gateway settings, configurations and proofs

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-06 21:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gateway_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('server_name', sa.String(length=253), nullable=False),
    sa.Column('upstream', sa.String(length=300), nullable=False),
    sa.Column('certificate', sa.String(length=300), nullable=False),
    sa.Column('certificate_key', sa.String(length=300), nullable=False),
    sa.Column('validator', sa.String(length=300), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('deprecated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sunset_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('successor_url', sa.String(length=500), nullable=True),
    sa.Column('deprecation_policy_url', sa.String(length=500), nullable=True),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("target IN ('nginx', 'nginx-plus')", name=op.f('ck_gateway_settings_target')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_gateway_settings_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_settings')),
    sa.UniqueConstraint('version_id', name=op.f('uq_gateway_settings_version_id'))
    )
    op.create_table('gateway_config',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('entry', sa.String(length=200), nullable=False),
    sa.Column('bundle', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('generated', 'uploaded')", name=op.f('ck_gateway_config_source')),
    sa.CheckConstraint("target IN ('nginx', 'nginx-plus')", name=op.f('ck_gateway_config_target')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_gateway_config_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_config'))
    )
    with op.batch_alter_table('gateway_config', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_config_version_id'), ['version_id'], unique=False)
    op.create_table('gateway_proof',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('config_id', sa.Integer(), nullable=True),
    sa.Column('config_sha256', sa.String(length=64), nullable=False),
    sa.Column('nginx_version', sa.Text(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('cases', sa.JSON(), nullable=False),
    sa.Column('decisions', sa.Integer(), nullable=False),
    sa.Column('log_leaks', sa.JSON(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['config_id'], ['gateway_config.id'], name=op.f('fk_gateway_proof_config_id_gateway_config')),
    sa.ForeignKeyConstraint(['version_id'], ['api_version.id'], name=op.f('fk_gateway_proof_version_id_api_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_proof'))
    )
    with op.batch_alter_table('gateway_proof', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_proof_version_id'), ['version_id'], unique=False)


def downgrade():
    with op.batch_alter_table('gateway_proof', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_proof_version_id'))
    op.drop_table('gateway_proof')
    with op.batch_alter_table('gateway_config', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_config_version_id'))
    op.drop_table('gateway_config')
    op.drop_table('gateway_settings')
