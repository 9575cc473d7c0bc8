"""Finding liborq and loading it into a connection of either driver."""

from __future__ import annotations

import glob
import os
import sqlite3
from typing import Any, Optional

ENTRY_POINT = "sqlite3_orq_init"

# The driver orq was first loaded through in this process. One process can
# use orq through one SQLite library only (the extension refuses a second),
# and apsw carries a SQLite of its own: later connections follow the first.
_loaded_through: Optional[str] = None


class LoadError(RuntimeError):
    """orq could not be loaded into a connection (the reason says why and what to do)."""


def loadable_path() -> str:
    """The path of the liborq shared library this package carries.

    ``$ORQ_LOADABLE_PATH`` overrides it (a build of your own).
    """
    override = os.environ.get("ORQ_LOADABLE_PATH")
    if override:
        return override
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "liborq*.so")))
    if not found:
        raise LoadError(
            f"no liborq*.so in {here}: install the package with pip (it builds the "
            "extension with cargo), or set ORQ_LOADABLE_PATH to a liborq.so"
        )
    return found[0]


def is_apsw(conn: Any) -> bool:
    return type(conn).__module__.split(".")[0] == "apsw"


def load(conn: Any) -> Any:
    """Load orq into an open ``sqlite3.Connection`` or ``apsw.Connection``; returns it.

    The stdlib module can load extensions only where Python was built with
    ``--enable-loadable-sqlite-extensions`` (Debian's ``/usr/bin/python3`` is;
    pyenv and python.org builds usually are not). Elsewhere use apsw
    (``pip install apsw``), which carries its own, current SQLite.
    """
    global _loaded_through
    path = loadable_path()
    if is_apsw(conn):
        _call(conn, ("enable_load_extension", "enableloadextension"), True)
        _call(conn, ("load_extension", "loadextension"), path, ENTRY_POINT)
        _loaded_through = _loaded_through or "apsw"
        return conn
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError(f"orq.load: expected a sqlite3 or apsw Connection, got {type(conn).__name__}")
    if not stdlib_can_load():
        raise LoadError(
            "this Python's sqlite3 module was built without extension loading "
            "(no Connection.enable_load_extension); load orq into an apsw connection "
            "instead (orq.load(apsw.Connection(path))), or let orq.Queue(path) pick "
            "its driver (leave out driver=)"
        )
    conn.enable_load_extension(True)
    try:
        # The file name (liborq...) makes SQLite call sqlite3_orq_init.
        conn.load_extension(path)
    finally:
        conn.enable_load_extension(False)
    _loaded_through = _loaded_through or "sqlite3"
    return conn


def pick_driver() -> str:
    """The driver ``orq.Queue(path)`` uses when not told: the one orq already
    runs through in this process, else the stdlib where it can load
    extensions, else apsw (a dependency of this package, for that case)."""
    if _loaded_through:
        return _loaded_through
    if stdlib_can_load():
        return "sqlite3"
    try:
        import apsw  # type: ignore[import-not-found]  # noqa: F401
    except ImportError as e:
        raise LoadError(
            "cannot load orq: this Python's sqlite3 module was built without extension "
            "loading (--enable-loadable-sqlite-extensions), and apsw, the driver orq "
            f"uses instead, cannot be imported ({e}); install it: pip install apsw"
        ) from None
    return "apsw"


def stdlib_can_load() -> bool:
    """Whether the stdlib sqlite3 module of this interpreter can load extensions."""
    return hasattr(sqlite3.Connection, "enable_load_extension")


def _call(obj: Any, names: tuple[str, ...], *args: Any) -> Any:
    # apsw renamed its methods in 3.42 (enableloadextension → enable_load_extension).
    for name in names:
        method = getattr(obj, name, None)
        if method is not None:
            return method(*args)
    raise LoadError(f"this apsw has none of {names}")
