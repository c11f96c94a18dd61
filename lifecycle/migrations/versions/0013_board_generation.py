"""board generation: one row counting committed changes to what the board shows (its read
cache is keyed by it; see lifecycle/review/board_cache.py)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('board_generation',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_generation'))
    )
    op.execute("INSERT INTO board_generation (id, value) VALUES (1, 0)")


def downgrade():
    op.drop_table('board_generation')
