"""`orq serve --cluster` (issue 18): the dashboard, its JSON, /metrics,
/health, actions and alert hooks read and write the queue on a three-node
dqlite cluster, and follow the leader when it is SIGKILLed.
"""
import json
import pathlib
import sys

import pytest

from nodes import ORQ
from fixtures import cluster  # noqa: F401 (a fixture)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "serve"))
from conftest import Server, wait_for  # noqa: E402


@pytest.fixture
def server(cluster, tmp_path):
    hook = tmp_path / "alerts.log"
    # The hook runs `orq` with no --cluster: ORQ_CLUSTER, set by serve,
    # points it at the same queue.
    s = Server("orq.db", ["--cluster", cluster.spec, "--bind", "127.0.0.1:0", "--interval", "0.2s",
                          "--on-alert", f"orq --json stats >> {hook}"],
               env={"PATH": f"{pathlib.Path(ORQ).parent}:/usr/bin:/bin"})
    s.hook = hook
    yield s
    s.stop()


def totals(server):
    """Jobs per state over every queue (an empty queue list has none)."""
    counts = server.get("/api/overview").json()["totals"]
    return {state: counts.get(state, 0) for state in ("ready", "cancelled")}


def test_dashboard_reads_acts_and_follows_the_leader(cluster, server):
    assert "on the cluster" in server.lines[0], server.lines
    for i in range(3):
        cluster.orq("enqueue", "mail", json.dumps({"n": i}))
    # The watcher sees the leader's commits (PRAGMA data_version there).
    wait_for(lambda: totals(server)["ready"] == 3, what="the overview to count 3 ready jobs")
    page = server.get("/api/jobs?queue=mail").json()
    assert [j["id"] for j in page["jobs"]] == [3, 2, 1]
    assert [e["type"] for e in server.get("/api/jobs/1").json()["history"]] == ["enqueued"]
    assert 'orq_enqueued_total{queue="mail"} 3' in server.get("/metrics").text

    csrf = {"X-CSRF-Token": server.csrf()}
    cancelled = server.post("/api/jobs/1/cancel", headers=csrf).json()
    assert cancelled == {"id": 1, "changed": True, "state": "cancelled"}
    assert cluster.sql("SELECT state FROM queue_jobs WHERE id = 1") == [{"state": "cancelled"}]
    assert server.post("/api/jobs/999/cancel", headers=csrf).status_code == 404

    leader = cluster.leader()
    cluster.kill(leader)
    cluster.wait_for_leader()
    cluster.orq("enqueue", "mail", "{}")
    wait_for(lambda: totals(server)["ready"] == 3 and totals(server)["cancelled"] == 1,
             what="the overview to follow the new leader")
    health = server.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    cluster.start(leader)


def test_alert_hooks_run_orq_on_the_same_cluster(cluster, server):
    cluster.sql("SELECT queue_alert('backlog', 'mail', 'ready', '>', 1)")
    cluster.orq("enqueue", "mail", "{}")
    cluster.orq("enqueue", "mail", "{}")
    wait_for(lambda: server.hook.exists() and server.hook.read_text().strip(), what="the alert hook to run")
    stats = json.loads(server.hook.read_text().splitlines()[0])
    assert [(q["queue"], q["ready"]) for q in stats] == [("mail", 2)]
    assert any("alert backlog firing" in line for line in server.lines), server.lines
    assert cluster.sql("SELECT state FROM queue_alerts") == [{"state": "firing"}]


def test_a_server_on_a_cluster_that_does_not_answer_says_so():
    with pytest.raises(RuntimeError, match="no cluster leader"):
        Server("orq.db", ["--cluster", "127.0.0.1:1", "--bind", "127.0.0.1:0"])
