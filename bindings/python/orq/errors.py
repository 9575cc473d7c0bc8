"""orq's errors, by kind (docs/errors.md), whichever driver raised them.

Every error of a SQL call the package makes is raised as one of these,
chosen by SQLite's result code and, where orq's kinds share SQLITE_ERROR,
the token after the function's name (``queue_cancel: [not_found] no job
with id 7``), never by the rest of the text. The driver's exception is the
``__cause__``; ``code`` is SQLite's extended result code.
"""

from __future__ import annotations

import re
from typing import Optional


class Error(Exception):
    """Any error of an orq call."""

    def __init__(self, message: str, code: Optional[int] = None):
        super().__init__(message)
        self.code = code


class InvalidArgument(Error):
    """Bad input (SQLITE_ERROR without a token): nothing was changed."""


class NotFound(Error):
    """No job (or workflow) with that id (SQLITE_ERROR, ``[not_found]``)."""


class SchemaMismatch(Error):
    """An orq schema this orq cannot use, e.g. from a newer orq (``[schema]``)."""


class Conflict(Error):
    """A constraint refused the change, e.g. another live job holds the key (SQLITE_CONSTRAINT)."""


class DatabaseBusy(Error):
    """Another connection held the lock too long (SQLITE_BUSY, SQLITE_LOCKED)."""


class ReadOnly(Error):
    """The database cannot be written (SQLITE_READONLY, SQLITE_PERM)."""


class DatabaseFull(Error):
    """The disk, or the database's max_page_count, is full (SQLITE_FULL)."""


class Corrupt(Error):
    """The database is damaged or is no database (SQLITE_CORRUPT, SQLITE_NOTADB)."""


class CannotOpen(Error):
    """The database file cannot be opened (SQLITE_CANTOPEN)."""


class DiskError(Error):
    """The operating system failed a read, write or lock (SQLITE_IOERR, SQLITE_PROTOCOL)."""


# By SQLite's primary result code.
_BY_CODE = {
    19: Conflict,  # SQLITE_CONSTRAINT
    5: DatabaseBusy,  # SQLITE_BUSY
    6: DatabaseBusy,  # SQLITE_LOCKED
    8: ReadOnly,  # SQLITE_READONLY
    3: ReadOnly,  # SQLITE_PERM
    13: DatabaseFull,  # SQLITE_FULL
    11: Corrupt,  # SQLITE_CORRUPT
    26: Corrupt,  # SQLITE_NOTADB
    14: CannotOpen,  # SQLITE_CANTOPEN
    10: DiskError,  # SQLITE_IOERR
    15: DiskError,  # SQLITE_PROTOCOL
}

# Within SQLITE_ERROR, by the token after an orq function's name.
_BY_TOKEN = {"not_found": NotFound, "schema": SchemaMismatch}
_TOKEN = re.compile(r"[a-z_]+: \[([a-z_]+)\]")


def kind_of(code: Optional[int], message: str) -> type[Error]:
    """The class for an error with SQLite result ``code`` (extended or primary) and ``message``."""
    if code is None:
        return Error
    primary = code & 0xFF
    if primary == 1:  # SQLITE_ERROR
        token = _TOKEN.match(message)
        return _BY_TOKEN.get(token.group(1), InvalidArgument) if token else InvalidArgument
    return _BY_CODE.get(primary, Error)


def from_driver(e: Exception) -> Error:
    """The orq error for a ``sqlite3.Error``, ``apsw.Error`` or ``dqlitedbapi.Error``."""
    # stdlib sqlite3 (Python 3.11+) and dqlitedbapi: sqlite_errorcode; apsw: extendedresult.
    code = getattr(e, "sqlite_errorcode", None)
    if code is None:
        code = getattr(e, "extendedresult", None)
    # Older apsw versions start the text with the class name ("BusyError: ").
    # dqlitedbapi's text is cut at 200 characters and ends naming the node;
    # its raw_message is the server's whole.
    message = getattr(e, "raw_message", None) or _APSW_PREFIX.sub("", str(e), count=1)
    return kind_of(code, message)(message, code)


_APSW_PREFIX = re.compile(r"^[A-Z][A-Za-z]*Error: ")
