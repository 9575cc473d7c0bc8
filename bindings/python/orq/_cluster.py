"""orq on a dqlite cluster of ``orq-node``s (docs/scale-out.md), through
``dqlite-dbapi`` (PyPI; Python 3.13 or newer): ``Queue.cluster(addresses)``.

On a replicated database orq writes only inside the caller's transaction
(dqlite ships what a COMMIT writes, not what a query does), so each
statement made outside a transaction of the caller's is sent as BEGIN
IMMEDIATE, the statement, COMMIT, as ``orq --cluster`` does.
"""

from __future__ import annotations

import re

from typing import Any, Sequence

from ._db import Db, orq_errors

_FIRST_WORD = re.compile(r"\s*([A-Za-z]+)")
_CONTROL = ("BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE")


class ClusterDb(Db):
    # The node serves every client on one thread: orq there never sleeps.
    looks_only = True

    def __init__(self, conn: Any):
        self.conn = conn
        self.apsw = False
        self._open = False  # a transaction of the caller's is open

    @classmethod
    def connect(cls, addresses: str, database: str) -> "ClusterDb":
        try:
            import dqlitedbapi  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImportError(f"Queue.cluster needs dqlite-dbapi (Python 3.13+): pip install dqlite-dbapi ({e})") from None
        with orq_errors():
            return cls(dqlitedbapi.connect(addresses, database=database))

    def _run(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        cursor = self.conn.cursor()
        cursor.execute(sql, tuple(params))
        names = [d[0] for d in cursor.description] if cursor.description else []
        return names, list(cursor.fetchall()) if names else []

    def _statement(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple]]:
        first = _FIRST_WORD.match(sql)  # "COMMIT;" is a COMMIT too
        head = first.group(1).upper() if first else ""
        with orq_errors():
            if head in _CONTROL:
                out = self._run(sql, params)
                if head == "BEGIN":
                    self._open = True
                elif head in ("COMMIT", "END", "ROLLBACK"):
                    self._open = False
                return out
            if self._open:
                return self._run(sql, params)
            self._run("BEGIN IMMEDIATE", ())
            try:
                out = self._run(sql, params)
                self._run("COMMIT", ())
                return out
            except BaseException:
                try:
                    self._run("ROLLBACK", ())
                except Exception:
                    pass  # gone with the connection, or never begun
                raise

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._statement(sql, params)[1]

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        names, rows = self._statement(sql, params)
        return [dict(zip(names, row)) for row in rows]

    def path(self) -> str:
        return ""

    def in_transaction(self) -> bool:
        return self._open
