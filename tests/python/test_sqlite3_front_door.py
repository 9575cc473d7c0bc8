"""liborq through Python's stdlib sqlite3: the calls a Python script makes."""
import multiprocessing
import sqlite3
import time

import pytest

from conftest import connect


def test_a_job_round_trip(db_path):
    conn = connect(db_path, timeout=5)
    conn.execute("SELECT orq_clock(1000)")
    job = conn.execute("SELECT queue_enqueue('email', ?)", ('{"to": "a@b.c"}',)).fetchone()[0]
    (jid, payload, attempt, token), = conn.execute(
        "SELECT id, payload, attempt, token FROM queue_claim('py', 10)").fetchall()
    assert (jid, payload, attempt) == (job, '{"to": "a@b.c"}', 1)
    assert conn.execute("SELECT queue_complete(?, ?, ?)", (jid, token, '{"sent": 1}')).fetchone() == (1,)
    assert conn.execute("SELECT state, result FROM queue_jobs").fetchall() == [("done", '{"sent": 1}')]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_errors_name_the_function_and_change_nothing(db_path):
    conn = connect(db_path, timeout=5)
    with pytest.raises(sqlite3.OperationalError, match=r"^queue_enqueue: unknown option 'prio'"):
        conn.execute("SELECT queue_enqueue('q', '{}', '{\"prio\": 1}')")
    with pytest.raises(sqlite3.OperationalError, match=r"^queue_claim: n must be from 0 to 100000, got -1"):
        conn.execute("SELECT * FROM queue_claim('w', -1)").fetchall()
    assert conn.execute("SELECT count(*) FROM queue_jobs").fetchone() == (0,)


def test_completing_while_the_claim_cursor_is_still_open(db_path):
    """The usual loop: complete each job while iterating the claim's rows."""
    conn = connect(db_path, timeout=5)
    other = connect(db_path, timeout=5)
    conn.execute("SELECT count(queue_enqueue('q', value)) FROM json_each('[1,2,3,4,5]')")
    done = []
    for jid, token in conn.execute("SELECT id, token FROM queue_claim('w', 5)"):
        other.execute("SELECT queue_enqueue('noise', '{}')")  # another writer commits meanwhile
        done.append(conn.execute("SELECT queue_complete(?, ?)", (jid, token)).fetchone()[0])
    assert done == [1, 1, 1, 1, 1]
    assert conn.execute("SELECT done FROM queue_stats WHERE queue = 'q'").fetchone() == (5,)


def test_implicit_transactions_of_the_default_isolation_level(db_path):
    """Python's default mode opens a transaction before DML: orq joins it."""
    conn = sqlite3.connect(db_path, timeout=5)  # isolation_level='' (deferred, implicit)
    conn.enable_load_extension(True)
    conn.load_extension(connect.__globals__["EXT"])
    conn.execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, job INTEGER)")
    conn.execute("INSERT INTO orders VALUES (1, queue_enqueue('mail', '{}'))")
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM queue_jobs").fetchone() == (0,)
    conn.execute("INSERT INTO orders VALUES (1, queue_enqueue('mail', '{}'))")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM queue_jobs").fetchone() == (1,)


def _drain(path, name, out):
    conn = connect(path, timeout=5)
    conn.execute("PRAGMA synchronous = NORMAL")
    done, errors = [], 0
    while True:
        try:
            rows = conn.execute("SELECT id, token FROM queue_claim(?, 1)", (name,)).fetchall()
            if not rows:
                left = conn.execute("SELECT coalesce(sum(ready + running), 0) FROM queue_stats").fetchone()[0]
                if left == 0:
                    break
                time.sleep(0.002)
                continue
            for jid, token in rows:
                if conn.execute("SELECT queue_complete(?, ?)", (jid, token)).fetchone()[0] == 1:
                    done.append(jid)
        except sqlite3.OperationalError as e:
            errors += 1
            print(name, e)
    out.put((name, done, errors))


def test_four_python_processes_share_the_work_without_lock_errors(db_path):
    conn = connect(db_path, timeout=5)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("SELECT count(queue_enqueue('q', value)) FROM json_each(?)", (str(list(range(4000))),))
    conn.execute("COMMIT")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_drain, args=(db_path, f"p{i}", out)) for i in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    ids = [j for _, done, _ in results for j in done]
    assert sum(errors for *_, errors in results) == 0
    assert len(ids) == 4000 and len(set(ids)) == 4000
    assert all(len(done) >= 250 for _, done, _ in results), [len(d) for _, d, _ in results]
    assert conn.execute("SELECT done, ready, running FROM queue_stats").fetchall() == [(4000, 0, 0)]
