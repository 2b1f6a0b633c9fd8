"""The farm's durable store: SQLAlchemy Core tables, Alembic migrations, transactions."""

from ._engine import Store, sqlite_url
from ._schema import access_keys, idempotency_records, metadata, principals, resources, settings, tags, telemetry_events
from ._types import Epoch, Json, utcnow

__all__ = [
    "Epoch",
    "Json",
    "Store",
    "access_keys",
    "idempotency_records",
    "metadata",
    "principals",
    "resources",
    "settings",
    "sqlite_url",
    "tags",
    "telemetry_events",
    "utcnow",
]
