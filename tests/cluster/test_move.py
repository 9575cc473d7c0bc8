"""Moving a queue from a file into a cluster and back (issue 18,
docs/scale-out.md): `orq cluster import FILE` and `orq cluster export
FILE`. Jobs in every state, their leases and tokens, the trail, schedules,
alerts and the id sequence arrive as they were, and workers carry on at
the other end.
"""
import json
import sqlite3
import subprocess

from nodes import ORQ
from fixtures import cluster  # noqa: F401 (a fixture)


def orq(db, *args):
    done = subprocess.run([ORQ, "--db", str(db), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"orq {args}: {done.stdout}{done.stderr}"
    return done.stdout


JOBS = "SELECT id, queue, state, attempts, token, run_at, payload, result, error FROM queue_jobs ORDER BY id"
EVENTS = "SELECT seq, job, type, from_state, to_state, at FROM queue_events ORDER BY seq"


def rows(db, sql):
    return json.loads(orq(db, "--json", "sql", sql))


def a_busy_queue(db):
    """Jobs done, retried, running (leased), scheduled and ready, with history."""
    orq(db, "enqueue", "mail", "--lines", "\n".join(json.dumps({"n": i}) for i in range(300)))
    orq(db, "enqueue", "mail", '{"later": true}', "--delay", "1h")
    orq(db, "sql", "SELECT queue_alert('backlog', 'mail', 'ready', '>', 1000)")
    orq(db, "sql", "SELECT queue_complete(id, token) FROM queue_claim('w1', 100)")
    orq(db, "sql", "SELECT queue_fail(id, token, 'boom', 0) FROM queue_claim('w1', 1)")
    return rows(db, "SELECT id, token FROM queue_claim('w2', 5)")


def test_a_queue_moves_into_the_cluster_and_back(cluster, tmp_path):
    source = tmp_path / "file.db"
    held = a_busy_queue(source)
    jobs, events = rows(source, JOBS), rows(source, EVENTS)

    moved = json.loads(cluster.orq("--json", "cluster", "import", str(source)).stdout)
    assert moved["jobs"] == 301 and moved["tables"] >= 10, moved
    assert cluster.sql(JOBS) == jobs
    assert cluster.sql(EVENTS) == events
    assert cluster.sql("SELECT name, state FROM queue_alerts") == [{"name": "backlog", "state": "ok"}]

    # The leases moved with their tokens: a worker of the file completes
    # its job on the cluster, and a stale token changes nothing.
    job = held[0]
    assert cluster.sql(f"SELECT queue_complete({job['id']}, {job['token']}) AS ok") == [{"ok": 1}]
    stale = held[1]
    assert cluster.sql(f"SELECT queue_complete({stale['id']}, {stale['token'] + 1}) AS ok") == [{"ok": 0}]
    assert cluster.sql(f"SELECT state FROM queue_jobs WHERE id = {stale['id']}") == [{"state": "running"}]
    # New ids go on from the file's sequence, and workers drain the rest.
    assert json.loads(cluster.orq("--json", "enqueue", "mail", "{}").stdout)["id"] == 302
    cluster.orq("sql", "SELECT queue_release(id, token) FROM queue_jobs WHERE state = 'running'")
    cluster.orq("worker", "--builtin", "noop", "--until-empty", "--queue", "mail")
    stats = json.loads(cluster.orq("--json", "stats").stdout)
    assert [(q["done"], q["scheduled"]) for q in stats] == [(301, 1)]

    back = tmp_path / "back.db"
    moved = json.loads(cluster.orq("--json", "cluster", "export", str(back)).stdout)
    assert moved["jobs"] == 302
    assert rows(back, JOBS) == cluster.sql(JOBS)
    assert rows(back, EVENTS) == cluster.sql(EVENTS)
    check = sqlite3.connect(back)
    assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    check.close()
    assert json.loads(orq(back, "--json", "enqueue", "mail", "{}"))["id"] == 303


def test_a_move_refuses_a_destination_that_is_not_empty(cluster, tmp_path):
    source = tmp_path / "file.db"
    orq(source, "enqueue", "mail", "{}")
    cluster.orq("enqueue", "other", "{}")
    refused = cluster.orq("cluster", "import", str(source), check=False)
    assert refused.returncode == 2 and "not empty" in refused.stderr, refused
    assert [q["queue"] for q in json.loads(cluster.orq("--json", "stats").stdout)] == ["other"]

    refused = cluster.orq("cluster", "export", str(source), check=False)
    assert refused.returncode == 2 and "exists" in refused.stderr, refused
    refused = cluster.orq("cluster", "import", str(tmp_path / "missing.db"), check=False)
    assert refused.returncode == 2 and "does not exist" in refused.stderr, refused
