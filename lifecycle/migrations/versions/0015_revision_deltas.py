"""spec_revision: a revision may be stored as a difference from an earlier revision (issue 10)

A revision read as a difference from the version's current revision stores only the bytes
that changed: ``raw`` then holds the middle that differs, ``delta_of_id`` names the revision
it differs from, ``delta_prefix`` / ``delta_suffix`` the lengths of the bytes shared at the
start and at the end, and ``delta_depth`` how many differences lie between it and a revision
stored whole (at most ``lifecycle.catalog.models.MAX_DELTA_DEPTH``).  Existing rows are
stored whole (``delta_of_id`` NULL, depth 0).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 05:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('spec_revision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delta_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delta_prefix', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delta_suffix', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delta_depth', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_spec_revision_delta_of_id_spec_revision'),
                                    'spec_revision', ['delta_of_id'], ['id'])
        batch_op.create_check_constraint(
            batch_op.f('ck_spec_revision_delta_whole'),
            '(delta_of_id IS NULL AND delta_prefix IS NULL AND delta_suffix IS NULL'
            ' AND delta_depth = 0) OR (delta_of_id IS NOT NULL AND delta_prefix >= 0'
            ' AND delta_suffix >= 0 AND delta_depth >= 1)')


def downgrade():
    # Differences are made whole before the columns go: each row gets its full bytes.
    bind = op.get_bind()
    rows = {r.id: r for r in bind.execute(sa.text(
        'SELECT id, raw, delta_of_id, delta_prefix, delta_suffix FROM spec_revision'))}

    def whole(row_id):
        row = rows[row_id]
        if row.delta_of_id is None:
            return bytes(row.raw)
        base = whole(row.delta_of_id)
        return base[:row.delta_prefix] + bytes(row.raw) + base[len(base) - row.delta_suffix:]

    for row_id, row in rows.items():
        if row.delta_of_id is not None:
            bind.execute(sa.text('UPDATE spec_revision SET raw = :raw WHERE id = :id'),
                         {'raw': whole(row_id), 'id': row_id})
    with op.batch_alter_table('spec_revision', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_spec_revision_delta_whole'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_spec_revision_delta_of_id_spec_revision'),
                                 type_='foreignkey')
        batch_op.drop_column('delta_depth')
        batch_op.drop_column('delta_suffix')
        batch_op.drop_column('delta_prefix')
        batch_op.drop_column('delta_of_id')
