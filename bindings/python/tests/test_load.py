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


def test_a_second_sqlite_library_in_one_process_is_refused_not_crashed():
    script = """
import sqlite3, apsw, orq
first = orq.load(sqlite3.connect(":memory:"))
try:
    orq.load(apsw.Connection(":memory:"))
except apsw.Error as e:
    print(e)
print(first.execute("SELECT queue_enqueue('a', 1)").fetchone()[0])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "already uses orq through another SQLite library" in out.stdout
    assert out.stdout.strip().endswith("1")
