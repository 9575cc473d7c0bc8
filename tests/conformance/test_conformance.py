"""One worker protocol, three runtimes: the same scenarios run against
`orq worker`, the Python worker and the Node worker, each started as an OS
process with the same handler (handler.sh, python_worker.py,
node_worker.js: "short" sleeps 0.3 s and returns; "long" touches a file
every 50 ms for up to 30 s, until told to stop; "fork" starts a `sleep 300`
in a session of its own, then runs like "long"). The database is checked
through SQL.

Run from the repository root, after `cargo build --release` (liborq.so) and
the CLI's build (target/bundled/release/orq), with a Python whose sqlite3
loads extensions (tests/run: target/pyenv/bin/python) and Node with
bindings/node's dependencies installed.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LIB = str(ROOT / "target/release/liborq.so")
ORQ = str(ROOT / "target/bundled/release/orq")
LEASE = 1.0  # seconds: the workers' beats come every half lease
GRACE = 1.0


def command(runtime, db, name):
    if runtime == "cli":
        return [ORQ, "--db", db, "worker", "--name", name, "-q", "c", "-c", "2", "--poll-max", "0.05",
                "--grace", str(GRACE), "--", "sh", str(HERE / "handler.sh")]
    if runtime == "python":
        return [sys.executable, str(HERE / "python_worker.py"), db, name, str(GRACE)]
    return ["node", str(HERE / "node_worker.js"), db, name, str(GRACE)]


class Run:
    """One runtime's worker process on a fresh database, and SQL on it."""

    def __init__(self, runtime, tmp_path):
        self.dir = tmp_path
        self.db = str(tmp_path / "q.db")
        self.name = f"conformance-{runtime}"
        self.mark = f"ORQ_CONFORMANCE_MARK={uuid.uuid4().hex}"
        self.conn = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        self.conn.enable_load_extension(True)
        self.conn.load_extension(LIB)
        env = {
            **os.environ,
            "ORQ_CONFORMANCE_DIR": str(tmp_path),
            "ORQ_LOADABLE_PATH": LIB,
            "PYTHONPATH": str(ROOT / "bindings/python"),
            "ORQ_LOG_FORMAT": "json",
            "PATH": f"{Path(ORQ).parent}{os.pathsep}{os.environ['PATH']}",  # handler.sh's orq
        }
        key, value = self.mark.split("=")
        env[key] = value  # every process of the run carries it: see marked()
        self.log = open(tmp_path / "worker.log", "w+")
        self.proc = subprocess.Popen(command(runtime, self.db, self.name), env=env, stdout=self.log, stderr=self.log)

    def one(self, sql, *args):
        return self.conn.execute(sql, args).fetchone()[0]

    def enqueue(self, kind):
        payload = json.dumps({"task": "conformance", "args": [kind], "kwargs": {}, "kind": kind}, separators=(",", ":"))
        return self.one("SELECT queue_enqueue('c', ?, ?)", payload, json.dumps({"lease": LEASE, "max_attempts": 3}))

    def job(self, id):
        row = self.conn.execute("SELECT state, result, attempts, lease_until, error FROM queue_jobs WHERE id = ?", (id,)).fetchone()
        return dict(zip(("state", "result", "attempts", "lease_until", "error"), row))

    def worker_state(self):
        return self.one("SELECT state FROM queue_workers WHERE name = ?", self.name)

    def wait(self, what, check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.log.seek(0)
                pytest.fail(f"{self.name}: {what} did not happen within {timeout} s\nworker log:\n{self.log.read()}")
            time.sleep(0.02)

    def running(self, id):
        """Waits until job `id` runs and its handler shows it is alive."""
        self.wait(f"job {id} running", lambda: (self.dir / f"alive-{id}").exists())

    def handler_stopped(self, id):
        """Waits until the handler of job `id` stops touching its file."""
        alive = self.dir / f"alive-{id}"
        self.wait(f"the handler of job {id} stopping", lambda: time.time() - alive.stat().st_mtime > 0.4)

    def marked(self):
        """Processes that carry this run's mark in their environment."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if self.mark.encode() in f.read().split(b"\0"):
                        found.append(int(pid))
            except OSError:
                pass
        return found

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for pid in self.marked():  # whatever a failed test left behind
            os.kill(pid, signal.SIGKILL)
        self.log.close()
        self.conn.close()


# -- the scenarios -------------------------------------------------------------


def heartbeat_after_being_declared_dead(run):
    """Declared dead while running a job: the job is free at once; the
    worker's next beat makes it alive again and tells it the lease is lost,
    so it stops the handler and records nothing."""
    id = run.enqueue("long")
    run.running(id)
    run.one("SELECT queue_pause('c')")  # the freed job stays free: no claim takes it back
    run.one("SELECT queue_worker_dead(?)", run.name)
    assert run.worker_state() == "dead"
    run.wait("the worker alive again", lambda: run.worker_state() == "alive")
    run.handler_stopped(id)
    time.sleep(0.3)
    job = run.job(id)
    assert (job["state"], job["result"], job["attempts"]) == ("ready", None, 1)
    assert job["error"] == f"worker {run.name} died"


def lost_lease_mid_job(run):
    """A lease lost while the handler runs (here: the job is cancelled): the
    handler is stopped, its result is not recorded, the worker goes on."""
    id = run.enqueue("long")
    run.running(id)
    run.one("SELECT queue_cancel(?)", id)
    run.handler_stopped(id)
    time.sleep(0.3)
    assert (run.job(id)["state"], run.job(id)["result"]) == ("cancelled", None)
    after = run.enqueue("short")
    run.wait("the next job done", lambda: run.job(after)["state"] == "done")
    assert run.worker_state() == "alive"


def sigterm_with_jobs_running(run):
    """SIGTERM: no new claims; a job that finishes within the grace period
    completes; one that does not is stopped and released (claimable at once,
    its attempt not counted); the worker leaves the registry and exits."""
    short, long = run.enqueue("short"), run.enqueue("long")
    run.running(long)
    assert run.job(short)["state"] == "running"
    waiting = run.enqueue("short")
    run.proc.send_signal(signal.SIGTERM)
    run.wait("exit", lambda: run.proc.poll() is not None, timeout=GRACE + 10)
    run.handler_stopped(long)
    assert (run.job(short)["state"], json.loads(run.job(short)["result"])) == ("done", "short done")
    job = run.job(long)
    assert (job["state"], job["attempts"], job["lease_until"]) == ("ready", 0, None)
    assert run.one("SELECT count(*) FROM orq_events WHERE job = ? AND type = 'released'", long) == 1
    assert run.job(waiting)["state"] == "ready" and run.job(waiting)["attempts"] == 0
    assert run.worker_state() == "stopped"


def sigkill_with_a_job_that_forked(run):
    """SIGKILL of the worker while a job's handler has started a process in
    a session of its own: that process does not outlive the worker."""
    id = run.enqueue("fork")
    run.running(id)
    worker = run.proc.pid
    run.wait("the forked process", lambda: len([p for p in run.marked() if p != worker]) >= 2)
    run.proc.kill()
    run.proc.wait(10)
    run.wait("no process of the job left", lambda: run.marked() == [], timeout=5)


def durable_steps_sleep_and_retry(run):
    """A step that fails once and is tried again, a sleep, a step: each run
    of the handler ends when the job leaves the worker, and the worker logs
    it suspended; the job's history is the same in every runtime."""
    id = run.enqueue("durable")
    run.wait("the durable job done", lambda: run.job(id)["state"] == "done")
    job = run.job(id)
    assert (json.loads(job["result"]), job["attempts"]) == ("shipped 2", 1)
    assert (run.dir / f"tries-{id}").read_text() == "x\nx\n", "fetch: one failed try, one that worked"
    history = run.conn.execute(
        "SELECT type, detail ->> '$.name' FROM queue_history(?) WHERE type IN ('step', 'step_failed', 'slept', 'completed')",
        (id,),
    ).fetchall()
    assert [h[0] + (f" {h[1]}" if h[1] else "") for h in history] == [
        "step_failed fetch", "slept", "step fetch", "step sleep:1", "slept", "step ship", "completed",
    ]
    assert run.one("SELECT progress FROM queue_jobs WHERE id = ?", id) == "1"
    run.log.seek(0)
    outcomes = [json.loads(line).get("outcome") for line in run.log if line.startswith("{")]
    assert outcomes.count("suspended") == 2, outcomes


SCENARIOS = [
    durable_steps_sleep_and_retry,
    heartbeat_after_being_declared_dead,
    lost_lease_mid_job,
    sigterm_with_jobs_running,
    sigkill_with_a_job_that_forked,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("runtime", ["cli", "python", "node"])
def test_conformance(runtime, scenario, tmp_path):
    run = Run(runtime, tmp_path)
    try:
        scenario(run)
    finally:
        run.close()
