"""The farm's identity store and sign-in: users, groups, refresh tokens, device codes, failed sign-ins.

Revision ID: 0008
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from farmhand.server.store._types import Epoch

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.Column("updated_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("principal_id"),
        sa.UniqueConstraint("user_name"),
    )
    op.create_table(
        "user_groups",
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("group_name", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("principal_id"),
        sa.UniqueConstraint("group_name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "member_id"),
    )
    op.create_index("ix_group_members_member", "group_members", ["member_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_name", sa.String(length=256), nullable=False),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.Column("expires_at", Epoch(), nullable=False),
        sa.Column("last_used_at", Epoch(), nullable=True),
        sa.Column("revoked_at", Epoch(), nullable=True),
        sa.PrimaryKeyConstraint("token_id"),
    )
    op.create_index("ix_refresh_tokens_principal_id", "refresh_tokens", ["principal_id"])
    op.create_table(
        "sign_in_keys",
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("access_key_id"),
    )
    op.create_index("ix_sign_in_keys_token_id", "sign_in_keys", ["token_id"])
    op.create_index("ix_sign_in_keys_expires_at", "sign_in_keys", ["expires_at"])
    op.create_table(
        "device_authorizations",
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("client_name", sa.String(length=256), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", Epoch(), nullable=False),
        sa.Column("expires_at", Epoch(), nullable=False),
        sa.Column("last_polled_at", Epoch(), nullable=True),
        sa.PrimaryKeyConstraint("device_code_hash"),
        sa.UniqueConstraint("user_code"),
    )
    op.create_index("ix_device_authorizations_expires_at", "device_authorizations", ["expires_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column(
            "failure_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failed_at", Epoch(), nullable=False),
        sa.PrimaryKeyConstraint("failure_id"),
    )
    op.create_index("ix_sign_in_failures_who", "sign_in_failures", ["user_name", "address", "failed_at"])


def downgrade() -> None:
    for table in (
        "sign_in_failures",
        "device_authorizations",
        "sign_in_keys",
        "refresh_tokens",
        "group_members",
        "user_groups",
        "users",
    ):
        op.drop_table(table)
