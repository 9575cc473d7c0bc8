import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import orq


def run_until(worker, done, timeout=30):
    """Runs the worker in a thread until done() holds; then stops it."""
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
        thread.join(timeout)
    assert not thread.is_alive(), "the worker did not stop"


def test_tasks_run_exactly_once_with_concurrency(q):
    seen, lock = [], threading.Lock()

    @q.task("math")
    def add(a, b):
        with lock:
            seen.append((a, b))
        return a + b

    @q.task("text")
    def shout(s, *, times=1):
        return s.upper() * times

    sums = [add.delay(i, 1) for i in range(100)]
    words = [shout.delay("hi", times=2) for _ in range(100)]
    worker = q.worker(concurrency=4)
    run_until(worker, lambda: sum(s["done"] for s in q.stats()) == 200)
    assert sorted(seen) == [(i, 1) for i in range(100)]
    assert [r.get(timeout=1) for r in sums] == [i + 1 for i in range(100)]
    assert {r.get(timeout=1) for r in words} == {"HIHI"}
    assert worker.done == 200 and worker.failed == 0
    [w] = q.db.dicts("SELECT state, concurrency FROM queue_workers")
    assert w == {"state": "stopped", "concurrency": 4}


def test_calling_a_task_runs_it_here(q):
    @q.task()
    def double(x):
        return 2 * x

    assert double(21) == 42 and double.__name__ == "double"
    assert q.stats() == []


def test_a_failing_task_is_retried_then_dead(q):
    calls = []

    @q.task("flaky", retries=1, backoff={"base": 0.01, "jitter": False})
    def flaky():
        calls.append(1)
        raise ValueError("nope")

    result = flaky.delay()
    run_until(q.worker(), lambda: result.state == "dead")
    with pytest.raises(orq.JobFailed, match="ended dead: ValueError: nope"):
        result.get(timeout=1)
    assert len(calls) == 2


def test_a_job_for_an_unknown_task_fails_with_the_reason(q):
    @q.task("mixed")
    def known():
        return 1

    id = q.enqueue("mixed", {"task": "gone.away"}, max_attempts=1)
    run_until(q.worker(), lambda: q.job(id)["state"] == "dead")
    assert "no task named 'gone.away'" in q.job(id)["error"]


def test_submit_with_options_and_a_timeout_on_get(q):
    @q.task("later")
    def later():
        return "ok"

    result = later.submit(delay=3600)
    assert result.state == "ready"
    with pytest.raises(TimeoutError):
        result.get(timeout=0.05)


WORKER_SCRIPT = textwrap.dedent(
    """
    import sys, time, orq
    q = orq.Queue(sys.argv[1], driver=sys.argv[2], name="sub")

    @q.task("slow")
    def slow(seconds):
        time.sleep(seconds)
        return "finished"

    print("ready", flush=True)
    q.worker(concurrency=2, idle_wait=0.2).run()
    print("stopped", flush=True)
    """
)


def test_sigterm_lets_running_jobs_finish(q, db_path, driver, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), db_path, driver], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        id = q.enqueue("slow", {"task": "__main__.slow", "args": [1.0]})
        log = [proc.stderr.readline().split(" ", 1)[1].strip() for _ in range(2)]
        # The signal comes once the log says the job started.
        assert log[1] == f"job {id} [slow] attempt 1/5 started"
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stdout.read().strip() == "stopped"
        log += [line.split(" ", 1)[1] for line in proc.stderr.read().splitlines()]
    finally:
        proc.kill()
    row = q.job(id)
    assert (row["state"], row["result"], row["attempts"]) == ("done", "finished", 1)
    # The log tells the story: the signal came while the job ran, and the job finished.
    assert log[0] == 'worker started: sub (concurrency 2, queues ["slow"])'
    assert log[1:3] == [f"job {id} [slow] attempt 1/5 started", "worker stopping: letting 1 running job(s) finish"]
    assert log[3].startswith(f"job {id} [slow] attempt 1/5 done in 1.0")
    assert log[4:] == ["worker stopped: 1 done, 0 failed"]
