"""Servers sharing a PostgreSQL database hear of changed access keys: a trigger notifies them.

Revision ID: 0013
Revises: 0005
"""

from alembic import op

revision = "0013"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER access_keys_changed ON access_keys")
    op.execute("DROP FUNCTION farmhand_access_key_changed()")
