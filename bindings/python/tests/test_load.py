import json
import os
import sqlite3
import subprocess
import sys

import apsw
import pytest

import orq
from conftest import only


def test_the_package_carries_the_extension():
    path = orq.loadable_path()
    assert os.path.basename(path).startswith("liborq.") and path.endswith(".so")
    assert os.path.dirname(path) == os.path.dirname(orq.__file__)


@only("sqlite3")
def test_load_into_a_stdlib_connection():
    conn = orq.load(sqlite3.connect(":memory:"))
    assert conn.execute("SELECT orq_version()").fetchone()[0].startswith("v")
    debug = json.loads(conn.execute("SELECT orq_debug()").fetchone()[0])
    assert debug["sqlite_version"] == sqlite3.sqlite_version
    # Loading is switched off again: SQL cannot load other libraries.
    with pytest.raises(sqlite3.OperationalError, match="not authorized"):
        conn.execute("SELECT load_extension('x')")


@only("apsw")
def test_load_into_an_apsw_connection():
    conn = orq.load(apsw.Connection(":memory:"))
    debug = json.loads(conn.execute("SELECT orq_debug()").fetchone()[0])
    assert debug["sqlite_version"] == apsw.sqlite_lib_version()


def test_load_refuses_other_objects():
    with pytest.raises(TypeError, match="expected a sqlite3 or apsw Connection"):
        orq.load(object())


@only("sqlite3")
def test_a_python_without_extension_loading_gets_told_what_to_do(monkeypatch):
    monkeypatch.setattr(orq._load, "stdlib_can_load", lambda: False)
    with pytest.raises(orq.LoadError, match="apsw"):
        orq.load(sqlite3.connect(":memory:"))


def test_loadable_path_override(monkeypatch, tmp_path):
    monkeypatch.setenv("ORQ_LOADABLE_PATH", str(tmp_path / "liborq.so"))
    assert orq.loadable_path() == str(tmp_path / "liborq.so")


def test_queue_on_a_connection_of_yours_joins_its_transactions(db_path, driver):
    conn = sqlite3.connect(db_path, isolation_level=None) if driver == "sqlite3" else apsw.Connection(db_path)
    q = orq.Queue(conn)  # loads orq into it
    q.db.rows("BEGIN IMMEDIATE")
    q.enqueue("a", 1)
    q.db.rows("ROLLBACK")
    assert q.stats() == []
    assert q.job(q.enqueue("a", 2))["payload"] == 2


def python(script, *args):
    """Runs ``script`` in a fresh interpreter (a process of its own: which
    SQLite library orq runs through is decided once per process)."""
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60)


def test_the_stdlib_and_apsw_run_orq_side_by_side_in_one_process(tmp_path):
    # Two SQLite libraries: Debian's 3.40.1 behind the stdlib, apsw's own.
    script = """
import json, sys, sqlite3, apsw, orq
a = orq.Queue(sqlite3.connect(sys.argv[1], isolation_level=None))
b = orq.Queue(apsw.Connection(sys.argv[2]))
a2 = orq.Queue(sys.argv[1], driver="sqlite3")
b2 = orq.Queue(sys.argv[2], driver="apsw")
a.enqueue("q", "from the stdlib")
b.enqueue("q", "from apsw")
print(a2.claim_many("q")[0].payload, "|", b2.claim_many("q")[0].payload)
versions = [json.loads(q.db.rows("SELECT orq_debug()")[0][0])["sqlite_version"] for q in (a, b)]
print(versions == [sqlite3.sqlite_version, apsw.sqlite_lib_version()], versions[0] != versions[1])
print(orq._load._library_file["sqlite3"] == orq.loadable_path(), orq._load._library_file["apsw"] != orq.loadable_path())
"""
    out = python(script, str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["from the stdlib | from apsw", "True True", "True True"]


def test_one_database_file_through_both_sqlite_libraries_is_refused_and_changes_nothing(db_path):
    script = """
import sys, sqlite3, apsw, orq
first = orq.Queue(sys.argv[1], driver="apsw")
first.enqueue("q", 1)
for second in (lambda: orq.Queue(sys.argv[1], driver="sqlite3"),
               lambda: orq.load(sqlite3.connect(sys.argv[1]))):
    try:
        second()
    except orq.LoadError as e:
        print(e)
print(first.stats()[0]["ready"], first.claim_many("q")[0].payload)
"""
    out = python(script, db_path)
    assert out.returncode == 0, out.stderr
    *refusals, last = out.stdout.splitlines()
    assert len(refusals) == 2
    for refusal in refusals:
        assert refusal.startswith(
            "orq.load: this database file is open through apsw's SQLite library in this process"
        ), refusal
        assert "driver='apsw'" in refusal
    assert last == "1 1"


def test_one_liborq_file_in_two_sqlite_libraries_is_refused_by_the_extension_not_crashed():
    # What a host that loads the same file into both libraries gets (the
    # package itself loads a copy for the second).
    script = """
import sqlite3, apsw, orq
first = orq.load(sqlite3.connect(":memory:"))
other = apsw.Connection(":memory:")
other.enable_load_extension(True)
try:
    other.load_extension(orq.loadable_path(), "sqlite3_orq_init")
except apsw.Error as e:
    print(e)
print(first.execute("SELECT queue_enqueue('a', 1)").fetchone()[0])
"""
    out = python(script)
    assert out.returncode == 0, out.stderr
    assert "already uses orq through another SQLite library" in out.stdout
    assert "load a copy of the file" in out.stdout
    assert out.stdout.strip().endswith("1")


# How orq.Queue(path) picks its driver. On an interpreter whose sqlite3
# module cannot load extensions (pyenv, python.org builds) the scripts below
# see what such an interpreter sees: stdlib_can_load() is False there.
NO_STDLIB_LOADING = "import orq._load; orq._load.stdlib_can_load = lambda: False\n"
QUEUE_REPORTS_ITS_DRIVER = """
import sys, orq
q = orq.Queue(sys.argv[1])
print("apsw" if q.db.apsw else "sqlite3", q.enqueue("a", 1))
"""


def test_queue_uses_the_stdlib_driver_where_it_can_load_extensions(db_path):
    out = python("import orq._load; assert orq._load.stdlib_can_load()\n" + QUEUE_REPORTS_ITS_DRIVER, db_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["sqlite3", "1"]


def test_queue_uses_apsw_where_the_stdlib_cannot_load_extensions(db_path):
    out = python(NO_STDLIB_LOADING + QUEUE_REPORTS_ITS_DRIVER, db_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["apsw", "1"]


def test_queue_follows_the_sqlite_library_orq_already_runs_through(db_path):
    # The stdlib could load orq, but this process already uses apsw's SQLite.
    first = "import apsw, orq; orq.load(apsw.Connection(':memory:'))\n"
    out = python(first + QUEUE_REPORTS_ITS_DRIVER, db_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["apsw", "1"]


def test_when_no_driver_can_load_the_error_names_the_cause(db_path):
    apsw_missing = "import sys; sys.modules['apsw'] = None\n"
    out = python(apsw_missing + NO_STDLIB_LOADING + QUEUE_REPORTS_ITS_DRIVER, db_path)
    assert out.returncode == 1
    *_, last = out.stderr.strip().splitlines()
    assert last == (
        "orq._load.LoadError: cannot load orq: this Python's sqlite3 module was built without "
        "extension loading (--enable-loadable-sqlite-extensions), and apsw, the driver orq uses "
        "instead, cannot be imported (import of apsw halted; None in sys.modules); install it: pip install apsw"
    )
    # One error, not an ImportError traceback with a second one after it.
    assert "During handling" not in out.stderr and "ModuleNotFoundError" not in out.stderr


def test_asking_for_apsw_without_it_says_so(db_path):
    script = "import sys; sys.modules['apsw'] = None\nimport orq\norq.Queue(sys.argv[1], driver='apsw')"
    out = python(script, db_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(
        "orq._load.LoadError: driver='apsw' needs the apsw package, which cannot be imported"
    )
    assert "During handling" not in out.stderr
