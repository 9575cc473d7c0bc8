"""Durable execution from Python (issue 19): Job.step, sleep, wait_for,
spawn, gather; through ``q.claim`` and through ``orq.Worker``. The queue
clock is moved with orq_clock, but for the worker's own connections."""

import json
import threading
import time

import pytest

import orq


def at(q, t):
    q.db.value("SELECT orq_clock(?)", (t,))


def test_a_step_runs_once_across_runs_and_a_sleep_holds_no_worker(q):
    at(q, 1000)
    q.enqueue("orders", {"order": 42})
    charged = []

    def handler(job):
        payment = job.step("charge", lambda: charged.append(job.id) or f"p-{len(charged)}")
        job.sleep(3600)
        return job.step("ship", lambda: {"payment": payment, "shipped": True})

    with q.claim("orders") as job:
        job.result = handler(job)
    assert charged == [1]
    assert q.job(1)["state"] == "ready" and q.job(1)["run_at"] == 4600
    with q.claim("orders") as job:
        assert job is None  # asleep: no worker holds it
    at(q, 4600)
    with q.claim("orders") as job:
        job.result = handler(job)
    assert charged == [1], "the charge did not run again"
    assert q.job(1)["state"] == "done"
    assert q.job(1)["result"] == {"payment": "p-1", "shipped": True}


def test_wait_for_returns_the_signals_payload_or_times_out(q):
    at(q, 1000)
    q.enqueue("approvals", {})
    with q.claim("approvals") as job:
        job.wait_for("approved-1", timeout=60)
    assert q.db.value("SELECT queue_signal('approved-1', '{\"by\": \"ann\"}')") == 1
    with q.claim("approvals") as job:
        job.result = job.wait_for("approved-1", timeout=60)
    assert q.job(1)["result"] == {"by": "ann"}

    q.enqueue("approvals", {})
    with q.claim("approvals") as job:
        job.wait_for("never", timeout=60)
    at(q, 1061)
    with pytest.raises(TimeoutError):
        with q.claim("approvals") as job:
            job.wait_for("never", timeout=60)
    assert q.job(2)["state"] in ("ready", "dead")  # failed with the timeout, as any exception


def test_spawn_and_gather_fan_out_once_and_collect_the_results(q):
    at(q, 1000)
    q.enqueue("parent", {"sizes": [64, 512]})

    def handler(job):
        for size in job.payload["sizes"]:
            job.spawn("thumbs", {"size": size})
        return [c["result"] for c in job.gather()]

    with q.claim("parent") as job:
        job.result = handler(job)
    assert q.job(1)["state"] == "waiting"
    for _ in range(2):
        with q.claim("thumbs") as child:
            child.result = child.payload["size"] * 2
    with q.claim("parent") as job:
        job.result = handler(job)
    assert q.job(1)["result"] == [128, 1024]
    assert [c["id"] for c in json.loads(q.db.value("SELECT queue_children(1)"))] == [2, 3], "spawned once"


def test_a_stale_job_raises_lease_lost_and_records_nothing(q):
    at(q, 1000)
    q.enqueue("orders", {}, lease=30)
    stale = q.claim_many("orders", 1)[0]
    at(q, 1031)
    current = q.claim_many("orders", 1)[0]
    with pytest.raises(orq.LeaseLost):
        stale.step("a", lambda: 1)
    with pytest.raises(orq.LeaseLost):
        stale.sleep(5)
    assert current.step("a", lambda: 2) == 2


def test_the_worker_counts_a_sleeping_job_as_suspended_not_failed(q):
    # The worker's connections keep the real clock: the job naps 0.2 s.
    @q.task("naps")
    def nap():
        orq.current_job().sleep(0.2)
        return "woke"

    nap.delay()
    w = q.worker(concurrency=1, idle_wait=0.01, log_format="quiet")
    t = threading.Thread(target=w.run)
    t.start()
    deadline = time.monotonic() + 10
    while w.done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    w.stop()
    t.join()
    assert (w.suspended, w.done, w.failed) == (1, 1, 0)
    assert q.job(1)["result"] == "woke"


def test_progress_shows_on_the_jobs_row(q):
    q.enqueue("resize", {})
    job = q.claim_many("resize", 1)[0]
    assert job.progress(0.5)
    assert job.progress(3, "3 of 10 images")
    assert q.job(job.id)["progress"] == {"value": 3, "message": "3 of 10 images"}


def test_a_failing_step_is_retried_on_its_own_terms_without_failing_the_job(q):
    at(q, 1000)
    q.enqueue("sync", {})
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError(f"try {len(tries)}")
        return "synced"

    def handler(job):
        return job.step("fetch", flaky, attempts=3, backoff={"base": 10, "jitter": False})

    for wake in (1000, 1010, 1030):
        at(q, wake)
        with q.claim("sync") as job:
            job.result = handler(job)
    assert len(tries) == 3
    job = q.job(1)
    assert (job["state"], job["attempts"], job["result"]) == ("done", 1, "synced"), "one attempt of the job"
    steps = json.loads(q.db.value("SELECT queue_steps(1)"))
    assert [(s["name"], s["result"], s["failures"], s["error"]) for s in steps] == [
        ("fetch", "synced", 2, "ConnectionError: try 2")
    ]


def test_a_step_out_of_tries_raises_its_error_to_the_handler(q):
    at(q, 1000)
    q.enqueue("sync", {})

    def handler(job):
        try:
            return job.step("fetch", lambda: 1 / 0)
        except ZeroDivisionError:
            return job.step("fallback", lambda: "cached")

    with q.claim("sync") as job:
        job.result = handler(job)
        assert [s["name"] for s in job.steps()] == ["fallback", "fetch"]
    assert q.job(1)["result"] == "cached"
    kinds = q.db.rows("SELECT type FROM queue_history(1) WHERE type LIKE 'step%'")
    assert [k[0] for k in kinds] == ["step_failed", "step"]
