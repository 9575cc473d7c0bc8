"""orq on a three-node dqlite cluster (issue 18): 10,000 jobs enqueued
through one node are drained by 4 `orq worker --cluster` processes while
the leader is SIGKILLed three times. Afterwards every job is done exactly
once, nothing enqueued is lost, and the restarted nodes hold the same rows
as the rest (read from each node in turn, made leader by a transfer).
"""
import hashlib
import json
import subprocess
import time

from nodes import ORQ
from fixtures import cluster  # noqa: F401 (a fixture)

JOBS = 10_000
KILLS = 3


def enqueue(cluster, n, batch=1000):
    for start in range(0, n, batch):
        lines = "\n".join(json.dumps({"n": i}) for i in range(start, min(n, start + batch)))
        cluster.orq("enqueue", "work", "--lines", lines, nodes=cluster.addresses[1])


def done(cluster):
    """Jobs done, read through `orq stats` (a read: no write lock to wait for)."""
    stats = json.loads(cluster.orq("--json", "stats").stdout)
    return sum(q["done"] for q in stats)


def dump(cluster):
    """A digest of every job's row and every event, as the leader sees them."""
    jobs = cluster.sql("SELECT id, state, attempts, token, result FROM queue_jobs ORDER BY id")
    events = cluster.sql("SELECT * FROM queue_events ORDER BY seq")
    return hashlib.sha256(json.dumps([jobs, events]).encode()).hexdigest(), len(jobs), len(events)


def test_workers_drain_through_three_leader_kills(cluster, tmp_path):
    enqueue(cluster, JOBS)
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(4)]
    workers = [
        subprocess.Popen([ORQ, "--cluster", cluster.spec, "worker", "--builtin", "noop", "-c", "8",
                          "--until-empty", "--log-format", "quiet"], stdout=log, stderr=subprocess.STDOUT)
        for log in logs
    ]
    failovers = []
    for _ in range(KILLS):
        before = done(cluster)
        while done(cluster) < before + JOBS // (KILLS + 2):
            time.sleep(0.05)
        leader = cluster.leader()
        killed_at = time.time()
        cluster.kill(leader)
        # From the kill to the first job the workers complete on the new leader.
        after = done(cluster)
        while done(cluster) <= after:
            time.sleep(0.01)
        failovers.append(time.time() - killed_at)
        cluster.start(leader)
    for w in workers:
        assert w.wait(timeout=300) == 0
    print(f"\nfailover (kill to next completion): {', '.join(f'{f:.2f}s' for f in failovers)}")

    assert done(cluster) == JOBS
    completions = cluster.sql(
        "SELECT job, count(*) AS n FROM queue_events WHERE type = 'completed' GROUP BY job HAVING n > 1")
    assert completions == [], "a job completed twice"
    lost = cluster.sql("SELECT count(*) AS n FROM queue_jobs")[0]["n"]
    assert lost == JOBS

    # Every node in turn leads and answers with the same rows.
    digests = {}
    for node in cluster.addresses:
        if cluster.leader() != node:
            cluster.orq("cluster", "transfer", str(node))
        deadline = time.time() + 30
        while cluster.leader() != node and time.time() < deadline:
            time.sleep(0.1)
        digests[node] = dump(cluster)
    assert len(set(digests.values())) == 1, digests


def test_orq_run_works_through_a_batch_on_the_cluster(cluster, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": n, "cmd": f"echo {n}"}) + "\n" for n in range(20)))
    first = cluster.orq("run", "--items", str(items), "--workers", "4")
    assert "20 jobs on queue run.items finished" in first.stdout, first.stdout
    assert "done 20" in first.stdout
    # Run again: every item's key finds its job, nothing runs twice.
    again = cluster.orq("run", "--items", str(items))
    assert "resuming: 20 of 20" in again.stderr
    assert cluster.sql("SELECT count(*) AS n FROM queue_jobs WHERE queue = 'run.items'") == [{"n": 20}]


def test_health_is_checked_by_the_leader(cluster):
    report = json.loads(cluster.orq("--json", "health").stdout)
    assert report["status"] == "ok", report
    assert {c["name"] for c in report["checks"]} >= {"quick_check", "dead_workers", "dead_jobs", "alerts"}
