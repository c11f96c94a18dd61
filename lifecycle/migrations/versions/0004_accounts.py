"""accounts: users, teams (owning APIs), memberships, recovery codes, personal access tokens,
the app's access-token keys

``api.team`` (free text) becomes ``api.team_id`` → ``team``: one team per distinct name, each
API linked to it (the downgrade turns it back into text).  Works on SQLite (batch mode) and
PostgreSQL.  At most one active app key per purpose (partial unique index on both).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 10:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team')),
    sa.UniqueConstraint('name', name=op.f('uq_team_name'))
    )
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('totp_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('team_membership',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_membership_team_id_team')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_team_membership_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', 'team_id', name=op.f('pk_team_membership'))
    )
    with op.batch_alter_table('team_membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_membership_team_id'), ['team_id'], unique=False)

    op.create_table('recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_recovery_code_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_code'))
    )
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_code_user_id'), ['user_id'], unique=False)

    op.create_table('personal_access_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('lookup', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_personal_access_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_personal_access_token')),
    sa.UniqueConstraint('lookup', name=op.f('uq_personal_access_token_lookup'))
    )
    with op.batch_alter_table('personal_access_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_personal_access_token_user_id'), ['user_id'], unique=False)

    op.create_table('app_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('kid', sa.String(length=128), nullable=False),
    sa.Column('alg', sa.String(length=32), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('sealed_private', sa.LargeBinary(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('sig', 'enc')", name=op.f('ck_app_key_purpose')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_key')),
    sa.UniqueConstraint('kid', name=op.f('uq_app_key_kid'))
    )
    with op.batch_alter_table('app_key', schema=None) as batch_op:
        batch_op.create_index('uq_app_key_one_active', ['purpose'], unique=True,
                              sqlite_where=sa.text('active'),
                              postgresql_where=sa.text('active'))

    # api.team (text) -> api.team_id (team)
    with op.batch_alter_table('api', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
    bind = op.get_bind()
    names = [row[0] for row in bind.execute(sa.text(
        "SELECT DISTINCT team FROM api WHERE team IS NOT NULL AND team <> ''"))]
    for name in names:
        bind.execute(sa.text("INSERT INTO team (name, created_at) VALUES (:n, CURRENT_TIMESTAMP)"),
                     {"n": name})
        bind.execute(sa.text(
            "UPDATE api SET team_id = (SELECT id FROM team WHERE name = :n) WHERE team = :n"),
            {"n": name})
    with op.batch_alter_table('api', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_team_id'), ['team_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_api_team_id_team'), 'team', ['team_id'], ['id'])
        batch_op.drop_column('team')


def downgrade():
    with op.batch_alter_table('api', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team', sa.String(length=100), nullable=True))
    op.get_bind().execute(sa.text(
        "UPDATE api SET team = (SELECT name FROM team WHERE team.id = api.team_id)"))
    with op.batch_alter_table('api', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_team_id_team'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_api_team_id'))
        batch_op.drop_column('team_id')

    with op.batch_alter_table('app_key', schema=None) as batch_op:
        batch_op.drop_index('uq_app_key_one_active')
    op.drop_table('app_key')
    with op.batch_alter_table('personal_access_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_personal_access_token_user_id'))
    op.drop_table('personal_access_token')
    with op.batch_alter_table('recovery_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_code_user_id'))
    op.drop_table('recovery_code')
    with op.batch_alter_table('team_membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_membership_team_id'))
    op.drop_table('team_membership')
    op.drop_table('user_account')
    op.drop_table('team')
