import json
import sqlite3
import threading
import time

import apsw
import pytest

import orq


def test_enqueue_claim_complete(q):
    id = q.enqueue("email", {"to": "a@b.c"}, priority=5)
    with q.claim("email") as job:
        assert (job.id, job.queue, job.payload, job.attempt, job.priority) == (id, "email", {"to": "a@b.c"}, 1, 5)
        job.result = {"sent": True}
    row = q.job(id)
    assert (row["state"], row["result"], row["worker"]) == ("done", {"sent": True}, "test-worker")


def test_a_queue_it_opened_has_the_recommended_pragmas(q, driver):
    debug = json.loads(q.db.value("SELECT orq_debug()"))
    assert (debug["journal_mode"], debug["synchronous"], debug["temp_store"]) == ("wal", 1, 2)
    assert debug["busy_timeout_ms"] == 5000
    plain = sqlite3.connect(":memory:") if driver == "sqlite3" else apsw.Connection(":memory:")
    default_cache = plain.execute("PRAGMA cache_size").fetchall()[0][0]
    assert debug["cache_size"] == default_cache, "the cache stays at SQLite's default"


def test_claim_yields_none_when_nothing_is_due(q):
    q.enqueue("email", {}, delay=60)
    with q.claim("email") as job:
        assert job is None


def test_an_exception_fails_the_attempt_and_propagates(q):
    id = q.enqueue("email", {}, max_attempts=2)
    with pytest.raises(ValueError):
        with q.claim() as job:
            raise ValueError("SMTP timeout")
    row = q.job(id)
    assert (row["state"], row["attempts"], row["error"]) == ("ready", 1, "ValueError: SMTP timeout")


def test_the_last_attempt_failing_makes_the_job_dead(q):
    id = q.enqueue("email", {}, max_attempts=1)
    with pytest.raises(RuntimeError):
        with q.claim("email"):
            raise RuntimeError("boom")
    assert q.job(id)["state"] == "dead"


def test_a_job_finished_inside_the_block_is_left_alone(q):
    id = q.enqueue("email", {})
    with q.claim("email") as job:
        assert job.release() is True
    row = q.job(id)
    assert (row["state"], row["attempts"]) == ("ready", 0)


def test_claim_waits_for_a_job_enqueued_by_another_connection(q, db_path, driver):
    def later():
        time.sleep(0.2)
        with orq.Queue(db_path, driver=driver) as other:
            other.enqueue("email", {"late": True})

    threading.Thread(target=later).start()
    started = time.monotonic()
    with q.claim("email", wait=10) as job:
        assert job.payload == {"late": True}
    assert time.monotonic() - started < 5


def test_a_lost_lease_cannot_complete(q, db_path, driver):
    q.db.value("SELECT orq_clock(1800000000)")
    id = q.enqueue("email", {})
    [job] = q.claim_many("email", 1, lease=10)
    with orq.Queue(db_path, driver=driver, name="other") as other:
        other.db.value("SELECT orq_clock(1800000011)")
        [again] = other.claim_many("email", 1)
        assert (again.id, again.attempt) == (id, 2)
        assert job.complete() is False
        assert job.extend() is None
        assert again.complete("mine") is True
    assert q.job(id)["result"] == "mine"


def test_heartbeat_keeps_the_lease(q, db_path, driver):
    id = q.enqueue("slow", {})
    with q.claim("slow", lease=0.4, heartbeat=True) as job:
        time.sleep(1.2)  # three leases long
        with orq.Queue(db_path, driver=driver, name="thief") as other:
            assert other.claim_many("slow", 1) == []
    row = q.job(id)
    assert (row["state"], row["attempts"]) == ("done", 1)


def test_enqueue_many_is_one_transaction(q):
    ids = q.enqueue_many("bulk", [{"n": i} for i in range(100)])
    assert ids == list(range(ids[0], ids[0] + 100))
    with pytest.raises(TypeError):
        q.enqueue_many("bulk", [{"n": 1}, {"not json": object()}])
    with pytest.raises(orq.InvalidArgument, match="queue_enqueue_many: option 'key' names one job"):
        q.enqueue_many("bulk", [1, 2], key="k")
    assert [s["ready"] for s in q.stats()] == [100]
    assert [q.job(i)["payload"] for i in q.enqueue_many("other", ["x", None, 1.5], priority=2)] == ["x", None, 1.5]


def test_debounce_keeps_one_job_with_the_last_payload(q):
    first = q.enqueue("reindex", {"v": 1}, key="doc-1", debounce=30)
    assert q.enqueue("reindex", {"v": 2}, key="doc-1", debounce=30) == first
    assert q.job(first)["payload"] == {"v": 2}
    with q.claim("reindex") as job:
        assert job is None, "not due for 30 s"


def test_a_groups_limit_holds_back_its_jobs_only(q):
    q.db.value("SELECT queue_configure('api', '{\"group_max_running\": 1}')")
    q.enqueue_many("api", [1, 2], group="customer:42")
    q.enqueue("api", 3, group="customer:7")
    assert sorted(job.payload for job in q.claim_many("api", 10)) == [1, 3]
    assert q.claim_many("api", 10) == [], "customer:42 runs one at a time"
    with pytest.raises(orq.InvalidArgument, match="queue_enqueue: group must be a string, got 42"):
        q.enqueue("api", 4, group=42)


def test_complete_many(q):
    q.enqueue_many("bulk", list(range(10)))
    jobs = q.claim_many("bulk", 10)
    for job in jobs:
        job.result = job.payload * 2
    assert q.complete_many(jobs[:9]) == 9
    assert q.complete_many([(jobs[9].id, jobs[9].token, "last"), (jobs[0].id, jobs[0].token)]) == 1
    assert [q.job(j.id)["result"] for j in jobs] == [n * 2 for n in range(9)] + ["last"]


def test_the_outbox_pattern(q):
    q.db.rows("CREATE TABLE orders (id INTEGER PRIMARY KEY, job INTEGER)")
    with pytest.raises(ZeroDivisionError):
        with q.transaction():
            job = q.enqueue("ship", {"order": 1})
            q.db.rows("INSERT INTO orders VALUES (1, ?)", (job,))
            1 / 0
    assert q.db.rows("SELECT count(*) FROM orders") == [(0,)] and q.stats() == []
    with q.transaction():
        job = q.enqueue("ship", {"order": 1})
        q.db.rows("INSERT INTO orders VALUES (1, ?)", (job,))
    assert q.db.rows("SELECT o.id, j.state FROM orders o JOIN queue_jobs j ON j.id = o.job") == [(1, "ready")]


def test_bad_input_names_the_function_and_changes_nothing(q):
    with pytest.raises(orq.InvalidArgument, match="queue_enqueue"):
        q.enqueue("no spaces allowed", {})
    with pytest.raises(orq.InvalidArgument, match="queue_enqueue: .*max_attempts"):
        q.enqueue("email", {}, max_attempts=-1)
    with pytest.raises(TypeError, match="unknown enqueue option"):
        q.enqueue("email", {}, retries=3)
    assert q.stats() == []


def test_stats_and_cancel_and_retry(q):
    a, b = q.enqueue("email", 1), q.enqueue("email", 2)
    assert q.cancel(a) is True
    assert q.retry(a) is True
    q.cancel(b)
    [row] = q.stats()
    assert (row["queue"], row["ready"], row["cancelled"]) == ("email", 1, 1)


def test_workflow_and_parent_results(q):
    wf = q.workflow(
        [
            {"key": "extract", "queue": "etl", "payload": {"rows": 10}},
            {"key": "load", "queue": "etl", "depends_on": ["extract"]},
        ],
        name="nightly",
    )
    with q.claim("etl") as job:
        job.result = {"rows": job.payload["rows"]}
    with q.claim("etl") as job:
        assert job.parent_results() == {"extract": {"rows": 10}}
    assert [(j["key"], j["state"]) for j in q.workflow_jobs(wf)] == [("extract", "done"), ("load", "done")]
