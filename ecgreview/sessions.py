"""Django's database sessions, loaded with one plain query.

Every authenticated request loads its session first. Django's db backend builds that query with the
ORM each time: 0.6 ms per load here, round trip included, a fifth of a whole signed-in API call;
this plain query takes about a third of that (bench/load_reads.py measures the whole request).
This store reads the same row with fixed SQL; creating, saving, expiring and deleting sessions are
Django's own code, unchanged. SESSION_ENGINE = "ecgreview.sessions".
"""

from __future__ import annotations

from functools import cache
from typing import cast

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.db.models import Field
from django.utils import timezone


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        row = None
        if self.session_key:
            connection = connections[router.db_for_read(self.model)]
            with connection.cursor() as cursor:
                now = connection.ops.adapt_datetimefield_value(timezone.now())
                cursor.execute(_load_sql(connection.vendor), [self.session_key, now])
                row = cursor.fetchone()
        if row is None:  # unknown or expired: as Django's backend does, a new session will get a new key
            self._session_key = None
            return {}
        return self.decode(row[0])


@cache
def _load_sql(vendor: str) -> str:
    from django.contrib.sessions.models import Session

    quote = connections[router.db_for_read(Session)].ops.quote_name
    table = quote(Session._meta.db_table)
    key, data, expiry = (
        quote(cast(Field, Session._meta.get_field(f)).column or f)
        for f in ("session_key", "session_data", "expire_date")
    )
    # Quoted names from the model only; the key and the time are parameters.
    return f"SELECT {data} FROM {table} WHERE {key} = %s AND {expiry} > %s"  # noqa: S608
