"""Scale-out: servers sharing a PostgreSQL database hear of changed access keys (a trigger notifies
them); task runs keep when their task became READY (the dispatch latency metric); log groups keep
their retention.

Revision ID: 0013
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch

revision = "0013"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session_actions") as batch:
        batch.add_column(sa.Column("ready_at", Epoch(), nullable=True))
    with op.batch_alter_table("log_groups") as batch:
        batch.add_column(sa.Column("retention_in_days", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: one server, nobody else to tell
    op.execute(
        """
        CREATE FUNCTION farmhand_access_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('farmhand_keys', OLD.access_key_id);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER access_keys_changed AFTER UPDATE OR DELETE ON access_keys "
        "FOR EACH ROW EXECUTE FUNCTION farmhand_access_key_changed()"
    )


def downgrade() -> None:
    with op.batch_alter_table("session_actions") as batch:
        batch.drop_column("ready_at")
    with op.batch_alter_table("log_groups") as batch:
        batch.drop_column("retention_in_days")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER access_keys_changed ON access_keys")
    op.execute("DROP FUNCTION farmhand_access_key_changed()")
