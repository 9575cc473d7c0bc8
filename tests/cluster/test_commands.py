"""Every `orq` command runs on a cluster as on a file (issue 18): workflows,
schedules, alert rules, the event trail, `watch --once` and the demo, on
three nodes. (enqueue, stats, jobs, worker, run, health: test_failover.py;
serve: test_serve.py; sql and the refusals: cli/tests/cli.rs.)
"""
import json

from fixtures import shared_cluster  # noqa: F401 (a fixture)


def test_a_workflow_is_submitted_shown_run_and_listed(cluster, tmp_path):
    spec = tmp_path / "etl.json"
    spec.write_text(json.dumps({"name": "etl", "jobs": [
        {"key": "extract", "queue": "etl", "payload": {"cmd": "echo extracted"}},
        {"key": "load", "queue": "etl", "payload": {"cmd": "echo loaded"}, "depends_on": ["extract"]},
    ]}))
    workflow = json.loads(cluster.orq("--db", "wf.db", "--json", "workflow", "submit", str(spec)).stdout)["id"]
    shown = cluster.orq("--db", "wf.db", "workflow", "show", str(workflow)).stdout
    assert "extract" in shown and "load" in shown and "waiting" in shown, shown
    cluster.orq("--db", "wf.db", "worker", "-q", "etl", "--until-empty", "--log-format", "quiet")
    listed = json.loads(cluster.orq("--db", "wf.db", "--json", "workflow", "list").stdout)
    assert [(w["id"], w["state"]) for w in listed] == [(workflow, "done")]
    cancelled = cluster.orq("--db", "wf.db", "workflow", "cancel", str(workflow), check=False)
    assert cancelled.returncode == 1, cancelled  # nothing was left to cancel


def test_schedules_and_alert_rules_are_kept_on_the_cluster(cluster):
    db = ["--db", "rules.db"]
    added = json.loads(cluster.orq(*db, "--json", "schedule", "add", "tick", "@every 1h", "ticks").stdout)
    assert added["name"] == "tick" and added["next_run_at"] > 0
    assert [s["name"] for s in json.loads(cluster.orq(*db, "--json", "schedule", "list").stdout)] == ["tick"]
    assert cluster.orq(*db, "schedule", "rm", "tick").stdout.strip() == "schedule tick removed"
    assert cluster.orq(*db, "schedule", "rm", "tick", check=False).returncode == 1

    cluster.orq(*db, "alert", "add", "backlog", "ready", ">", "100", "--queue", "mail", "--for", "5m")
    rules = json.loads(cluster.orq(*db, "--json", "alert", "list").stdout)
    assert [(r["name"], r["threshold"], r["for_seconds"]) for r in rules] == [("backlog", 100.0, 300.0)]
    assert cluster.orq(*db, "alert", "rm", "backlog").stdout.strip() == "alert backlog removed"


def test_events_watch_and_the_demo(cluster):
    db = ["--db", "demo.db"]
    demo = cluster.orq(*db, "demo", timeout=120)
    assert "retry the dead one" in demo.stdout, demo.stdout
    events = [json.loads(line) for line in cluster.orq(*db, "--json", "events", "-n", "5").stdout.splitlines()]
    assert len(events) == 5 and [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    frame = cluster.orq(*db, "watch", "--once").stdout
    assert "on the cluster" in frame and "demo" in frame, frame
