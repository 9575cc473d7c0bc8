"""Across languages, on one database file: Node enqueues, Python works the
job; Python submits a workflow and the `orq worker` binary drains it; the
audit trail shows every step."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import orq

ROOT = Path(__file__).resolve().parents[3]
ORQ_BIN = os.environ.get("ORQ_BIN", str(ROOT / "target/bundled/release/orq"))
NODE_PACKAGE = ROOT / "bindings/node"


def node(script: str, *args: str) -> str:
    return subprocess.run(
        ["node", "-e", script, *args], cwd=NODE_PACKAGE, check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def events(q: orq.Queue, job: int) -> list:
    return [(e["type"], e["worker"]) for e in q.db.dicts("SELECT type, worker FROM orq_events WHERE job = ? ORDER BY seq", (job,))]


def test_node_enqueues_python_completes(q, db_path):
    id = int(node("const {Queue} = require('.'); const q = new Queue(process.argv[1]);"
                  "console.log(q.enqueue('interop', {from: 'node'})); q.close()", db_path))
    with q.claim("interop") as job:
        assert (job.id, job.payload) == (id, {"from": "node"})
        job.result = {"by": "python"}
    assert q.job(id)["result"] == {"by": "python"}
    assert events(q, id) == [("enqueued", None), ("claimed", "test-worker"), ("completed", "test-worker")]
    seen = json.loads(node("const {Queue} = require('.'); const q = new Queue(process.argv[1]);"
                           "console.log(JSON.stringify(q.job(Number(process.argv[2])).result)); q.close()", db_path, str(id)))
    assert seen == {"by": "python"}


def test_a_python_workflow_drained_by_orq_worker(q, db_path):
    wf = q.workflow(
        [
            {"key": "a", "queue": "shell", "payload": {"cmd": "echo '{\"n\": 1}'"}},
            {"key": "b", "queue": "shell", "payload": {"cmd": "echo '{\"n\": 2}'"}},
            {"key": "sum", "queue": "shell", "payload": {"cmd": "echo 3"}, "depends_on": ["a", "b"]},
        ],
        name="interop",
    )
    worker = subprocess.Popen([ORQ_BIN, "--db", db_path, "worker", "-q", "shell", "-c", "2", "--name", "orq-bin"],
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [state] = q.db.rows("SELECT state FROM queue_workflows WHERE id = ?", (wf,))[0]
            if state != "running":
                break
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    assert state == "done"
    jobs = {j["key"]: j for j in q.workflow_jobs(wf)}
    assert {k: json.loads(j["result"]) for k, j in jobs.items()} == {"a": {"n": 1}, "b": {"n": 2}, "sum": 3}
    assert events(q, jobs["sum"]["id"]) == [
        ("enqueued", None), ("unblocked", None), ("claimed", "orq-bin"), ("completed", "orq-bin")
    ]


NODE_WAITER = """
const {Queue} = require('.');
const q = new Queue(process.argv[1]);
const handler = (job) => job.waitFor('approved', 60);
(async () => {
  const first = await q.claim('approvals', handler);
  console.log(JSON.stringify({suspended: first.suspended === true}));
  // Wait (no polling loop: queue_wait sleeps until a commit makes it due).
  if (!q.wait('approvals', 30)) throw new Error('no signal came');
  const second = await q.claim('approvals', handler);
  console.log(JSON.stringify(second.result));
  q.close();
})();
"""


def test_a_node_job_waits_for_a_signal_that_python_sends(q, db_path):
    q.enqueue("approvals", {"order": 7})
    waiter = subprocess.Popen(["node", "-e", NODE_WAITER, db_path], cwd=NODE_PACKAGE, stdout=subprocess.PIPE,
                              text=True)
    assert json.loads(waiter.stdout.readline()) == {"suspended": True}
    assert q.db.value("SELECT state FROM queue_jobs WHERE id = 1") == "ready"  # parked, no worker holds it
    assert q.db.value("SELECT queue_signal('approved', ?)", (json.dumps({"by": "python"}),)) == 1
    assert json.loads(waiter.stdout.readline()) == {"by": "python"}
    assert waiter.wait(30) == 0
    assert q.job(1)["state"] == "done" and q.job(1)["result"] == {"by": "python"}
