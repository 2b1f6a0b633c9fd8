"""Which farm secret a store's rows are sealed with, and the check that it is the right one.

Code that only holds a connection (signing-key lookups, paging) finds the secret through the
connection's engine, so one process can serve several farms, each with its own secret.
"""

from __future__ import annotations

import weakref

from sqlalchemy import ColumnElement, Connection, Engine, and_, insert, select

from ..store import Store, settings
from ._secret import SEALED_PREFIX, FarmSecret, FarmSecretError, SealedValueError

_CHECK_SETTING = "farm_secret_check"
_CHECK_PURPOSE = "farm-secret-check"
_CHECK_TEXT = "farmhand farm secret"

_bound: weakref.WeakKeyDictionary[Engine, FarmSecret] = weakref.WeakKeyDictionary()


def attach_farm_secret(store: Store, secret: FarmSecret) -> None:
    """Bind `secret` to `store` after checking it opens what the database was sealed with.

    The first server to start on a database records a sealed check value; a server given another
    secret (a different `FARMHAND_SECRET_KEY`, a lost key file) refuses to start rather than fail
    every signature later.
    """
    with store.write() as conn:
        recorded = conn.execute(select(settings.c.value).where(settings.c.key == _CHECK_SETTING)).scalar()
        if recorded is None:
            conn.execute(
                insert(settings).values(key=_CHECK_SETTING, value=secret.seal(_CHECK_TEXT, _CHECK_PURPOSE))
            )
        else:
            try:
                secret.unseal(str(recorded), _CHECK_PURPOSE)
            except SealedValueError:
                raise FarmSecretError(
                    "this database was sealed with another farm secret: give this server the "
                    "FARMHAND_SECRET_KEY (or the data dir's secret.key) the farm was started with"
                ) from None
    _bound[store.engine] = secret


def farm_secret_of(conn: Connection) -> FarmSecret:
    """The secret bound to the store this connection belongs to."""
    secret = _bound.get(conn.engine)
    if secret is None:
        raise FarmSecretError("no farm secret is attached to this store (see attach_farm_secret)")
    return secret


def unsealed(column: ColumnElement[str | None]) -> ColumnElement[bool]:
    """Rows whose `column` holds a value not yet sealed (plaintext from an older farmhand)."""
    return and_(column.is_not(None), column.not_like(f"{SEALED_PREFIX}%"))
