"""Finding liborq and loading it into a connection of either driver."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import sqlite3
import tempfile
from typing import Any, Optional

ENTRY_POINT = "sqlite3_orq_init"

# The driver orq was first loaded through in this process: orq.Queue(path)
# follows it, so a process uses one SQLite library unless told otherwise.
_loaded_through: Optional[str] = None

# One liborq file serves one SQLite library per process: the extension keeps
# the library's API table in a global, and refuses a second library. apsw
# carries a SQLite of its own, so the second driver gets a copy of liborq
# under a path of its own (the dynamic loader maps a file again only under
# a new path and inode), with globals of its own. Driver -> the file it loads.
_library_file: dict[str, str] = {}

# The database files each driver's orq connections opened, as (device,
# inode): two SQLite libraries in one process must never open the same file
# (see _refuse_a_file_of_the_other_library).
_files_of: dict[str, set[tuple[int, int]]] = {}


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

    Both drivers can run orq in one process, each on database files of its
    own: the second one loads a private copy of liborq. A database file
    already open through the other driver's SQLite library is refused
    (LoadError): two SQLite libraries on one file can corrupt it.
    """
    global _loaded_through
    if is_apsw(conn):
        driver = "apsw"
    elif isinstance(conn, sqlite3.Connection):
        driver = "sqlite3"
    else:
        raise TypeError(f"orq.load: expected a sqlite3 or apsw Connection, got {type(conn).__name__}")
    if driver == "sqlite3" and not stdlib_can_load():
        raise LoadError(
            "this Python's sqlite3 module was built without extension loading "
            "(no Connection.enable_load_extension); load orq into an apsw connection "
            "instead (orq.load(apsw.Connection(path))), or let orq.Queue(path) pick "
            "its driver (leave out driver=)"
        )
    _refuse_a_file_of_the_other_library(conn, driver)
    path = _library_file_for(driver)
    if driver == "apsw":
        _call(conn, ("enable_load_extension", "enableloadextension"), True)
        _call(conn, ("load_extension", "loadextension"), path, ENTRY_POINT)
    else:
        _load_into_stdlib(conn, path)
    _files_of.setdefault(driver, set()).update(_database_files(conn))
    _loaded_through = _loaded_through or driver
    return conn


def _load_into_stdlib(conn: sqlite3.Connection, path: str) -> None:
    conn.enable_load_extension(True)
    try:
        # The file name (liborq...) makes SQLite call sqlite3_orq_init.
        conn.load_extension(path)
    finally:
        conn.enable_load_extension(False)


def _library_file_for(driver: str) -> str:
    """The liborq file for the SQLite library of ``driver``: the package's
    own for the first driver, a private copy for the other."""
    if driver not in _library_file:
        original = loadable_path()
        if not _library_file:
            _library_file[driver] = original
        else:
            # Named liborq.so still, so that SQLite finds sqlite3_orq_init.
            directory = tempfile.mkdtemp(prefix=f"orq-{driver}-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            copy = os.path.join(directory, os.path.basename(original))
            shutil.copyfile(original, copy)
            _library_file[driver] = copy
    return _library_file[driver]


def _database_files(conn: Any) -> set[tuple[int, int]]:
    """The files of the databases open on ``conn`` (main and attached)."""
    cursor = conn.cursor()
    cursor.execute("PRAGMA database_list")
    files = set()
    for _seq, _name, file in list(cursor):
        try:
            st = os.stat(file) if file else None
        except OSError:
            st = None
        if st is not None:
            files.add((st.st_dev, st.st_ino))
    return files


def _refuse_a_file_of_the_other_library(conn: Any, driver: str) -> None:
    """Two SQLite libraries in one process (the stdlib's and apsw's) must
    not open the same database file: POSIX locks belong to the process, so
    neither library sees the other's locks, and either one closing the file
    drops the other's (SQLite's "How To Corrupt An SQLite Database File",
    2.2.1). Two connections could then write at once and corrupt it."""
    mine = _database_files(conn)
    for other, files in _files_of.items():
        if other == driver or not files & mine:
            continue
        raise LoadError(
            f"orq.load: this database file is open through {other}'s SQLite library in this "
            f"process; a {driver} connection to it would be a second SQLite library on one "
            "file, whose locks do not see each other's (the file can be corrupted). Use one "
            f"driver per database file in a process (orq.Queue(path, driver={other!r})), or "
            "another process"
        )


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
