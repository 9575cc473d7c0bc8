"""Errors are raised as orq's classes by kind (docs/errors.md), on either
driver: the result code, and the token for orq's own kinds, never the text."""

import sqlite3

import apsw
import pytest

import orq


def connect(path, driver, readonly=False):
    if driver == "sqlite3":
        mode = "?mode=ro" if readonly else ""
        return sqlite3.connect(f"file:{path}{mode}", uri=True, isolation_level=None)
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    return apsw.Connection(path, flags=flags)


def test_bad_input_is_invalid_argument(q):
    with pytest.raises(orq.InvalidArgument, match="^queue_enqueue: invalid queue name") as e:
        q.enqueue("no spaces allowed", {})
    assert e.value.code == 1
    assert isinstance(e.value, orq.Error) and not isinstance(e.value, orq.NotFound)


def test_an_unknown_job_is_not_found(q):
    with pytest.raises(orq.NotFound, match=r"^queue_cancel: \[not_found\] no job with id 99$"):
        q.cancel(99)
    with pytest.raises(orq.NotFound):
        q.retry(99)


def test_a_held_key_is_a_conflict(q):
    q.enqueue("q", {}, key="k")
    q.cancel(1)
    q.enqueue("q", {}, key="k")
    with pytest.raises(orq.Conflict, match="another live job of its queue holds its key") as e:
        q.retry(1)
    assert e.value.code == 2067  # SQLITE_CONSTRAINT_UNIQUE
    assert q.job(1)["state"] == "cancelled"


def test_a_held_lock_is_database_busy(db_path, driver):
    with orq.Queue(db_path, driver=driver, busy_timeout=0.05) as q:
        q.enqueue("q", {})
        holder = connect(db_path, driver)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(orq.DatabaseBusy, match="^queue_enqueue: database is locked"):
            q.enqueue("q", {})
        holder.execute("ROLLBACK")
        holder.close()


def test_a_full_disk_is_database_full(q):
    q.enqueue("q", {})
    pages = q.db.value("PRAGMA page_count")
    q.db.rows(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(orq.DatabaseFull, match="^queue_enqueue: database or disk is full"):
        q.enqueue("q", "x" * 100_000)
    assert [s["ready"] for s in q.stats()] == [1]


def test_a_read_only_database_is_read_only(db_path, driver):
    with orq.Queue(db_path, driver=driver) as q:
        q.enqueue("q", {})
    conn = connect(db_path, driver, readonly=True)
    with orq.Queue(conn) as ro:
        with pytest.raises(orq.ReadOnly, match="^queue_enqueue: attempt to write a readonly database"):
            ro.enqueue("q", {})
        with pytest.raises(orq.ReadOnly):
            ro.claim_many("q", 1)
    conn.close()


def test_a_damaged_schema_version_is_corrupt(q):
    q.enqueue("q", {})
    q.db.rows("UPDATE orq_meta SET value = -1 WHERE key = 'schema_version'")
    with pytest.raises(orq.Corrupt, match="^queue_enqueue: the database is damaged"):
        q.enqueue("q", {})
    with pytest.raises(orq.Corrupt):
        q.stats()


def test_a_schema_from_a_newer_orq_is_a_schema_mismatch(q):
    q.enqueue("q", {})
    q.db.rows("UPDATE orq_meta SET value = 99 WHERE key = 'schema_version'")
    with pytest.raises(orq.SchemaMismatch, match=r"^queue_enqueue: \[schema\] this database has orq schema v99"):
        q.enqueue("q", {})


def test_a_file_that_cannot_be_opened_is_cannot_open(tmp_path, driver):
    with pytest.raises(orq.CannotOpen) as e:
        orq.Queue(str(tmp_path / "no" / "such" / "dir" / "q.db"), driver=driver)
    assert e.value.code & 0xFF == 14  # SQLITE_CANTOPEN


def test_the_driver_error_is_the_cause(q):
    with pytest.raises(orq.NotFound) as e:
        q.cancel(5)
    assert isinstance(e.value.__cause__, (sqlite3.Error, apsw.Error))
