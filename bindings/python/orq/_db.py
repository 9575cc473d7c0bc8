"""One small interface over the two drivers (stdlib sqlite3 and apsw).

Every call reads its rows to the end: a statement left half-read would keep
a read transaction open, which blocks orq's writes on this connection.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

from ._load import LoadError, is_apsw, load, pick_driver
from .errors import from_driver

# The PRAGMAs the README recommends for a queue database (the cache stays
# at SQLite's default: a larger one only grows with the backlog).
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA temp_store = MEMORY",
)


class Db:
    # Whether queue_wait only looks instead of waiting (on a cluster).
    looks_only = False

    def __init__(self, conn: Any):
        self.conn = conn
        self.apsw = is_apsw(conn)

    @classmethod
    def open(cls, path: str, driver: Optional[str], busy_timeout: float, durable: bool) -> "Db":
        """A connection of its own to ``path``, with orq loaded and the PRAGMAs set."""
        driver = driver or pick_driver()
        if driver == "sqlite3":
            # isolation_level=None: no implicit BEGIN; orq's calls are their own
            # transactions unless the caller opens one (Queue.transaction).
            with orq_errors():
                conn: Any = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        elif driver == "apsw":
            try:
                import apsw  # type: ignore[import-not-found]
            except ImportError as e:
                raise LoadError(f"driver='apsw' needs the apsw package, which cannot be imported ({e}): pip install apsw") from None
            with orq_errors():
                conn = apsw.Connection(path)
        else:
            raise ValueError(f"driver must be 'sqlite3' or 'apsw', got {driver!r}")
        try:
            with orq_errors():
                db = cls(load(conn))
        except BaseException:
            conn.close()
            raise
        db.rows(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        for pragma in PRAGMAS:
            db.rows(pragma)
        db.rows(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        return db

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with orq_errors():
            cursor = self.conn.cursor()
            cursor.execute(sql, params)
            return list(cursor)

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with orq_errors():
            cursor = self.conn.cursor()
            cursor.execute(sql, params)
            try:
                names = [d[0] for d in cursor.description]
            except Exception:  # apsw: a statement that returned no row has none
                return []
            return [dict(zip(names, row)) for row in cursor]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def path(self) -> str:
        """The file of the main database ('' for in-memory ones)."""
        for _seq, name, file in self.rows("PRAGMA database_list"):
            if name == "main":
                return file or ""
        return ""

    def in_transaction(self) -> bool:
        if self.apsw:
            return not self.conn.getautocommit()
        return self.conn.in_transaction

    def close(self) -> None:
        self.conn.close()


def _driver_errors() -> tuple:
    errors: tuple = (sqlite3.Error,)
    for module in ("apsw", "dqlitedbapi"):  # dqlitedbapi: Queue.cluster
        try:
            errors += (__import__(module).Error,)
        except ImportError:
            pass
    return errors


@contextmanager
def orq_errors() -> Iterator[None]:
    """Raises the driver's SQLite errors as orq's (errors.py), by kind."""
    try:
        yield
    except _driver_errors() as e:
        raise from_driver(e) from e
