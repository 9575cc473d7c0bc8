"""`orq serve` over real HTTP: /metrics through a real Prometheus parser,
/health as workers die and disks fill, the token, CSRF and read-only
rules, the JSON endpoints and the event stream, and --on-alert."""
import json
import os
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ORQ, orq, wait_for


def enqueue(conn, queue, payload="{}", options=None):
    return conn.execute("SELECT queue_enqueue(?, ?, ?)", (queue, payload, options)).fetchone()[0]


def claim(conn, queue, n=1):
    return json.loads(conn.execute("SELECT queue_claim_json('test-worker', ?, ?)", (n, queue)).fetchone()[0])


def complete(conn, queue, n=1):
    for job in claim(conn, queue, n):
        assert conn.execute("SELECT queue_complete(?, ?)", (job["id"], job["token"])).fetchone()[0] == 1


def make_dead(conn, queue):
    """A job whose only attempt failed: dead."""
    jid = enqueue(conn, queue, '{"x":1}', '{"max_attempts":1,"priority":1000}')
    [job] = claim(conn, queue)
    assert job["id"] == jid
    assert conn.execute("SELECT queue_fail(?, ?, 'boom')", (jid, job["token"])).fetchone()[0] == "dead"
    return jid


def state_of(conn, jid):
    return conn.execute("SELECT state FROM queue_jobs WHERE id = ?", (jid,)).fetchone()[0]


# ------------------------------------------------------------------ /metrics


def test_metrics_parse_as_prometheus_text_with_every_family(conn, serve):
    for _ in range(3):
        enqueue(conn, "email")
    complete(conn, "email", 2)
    enqueue(conn, "sms")
    make_dead(conn, "sms")
    s = serve()
    r = s.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    # Counters lose their _total suffix in the parser's family names.
    for name, kind in [
        ("orq_enqueued", "counter"), ("orq_completed", "counter"), ("orq_failed", "counter"),
        ("orq_dead", "counter"), ("orq_cancelled", "counter"), ("orq_expired", "counter"),
        ("orq_ready", "gauge"), ("orq_running", "gauge"), ("orq_scheduled", "gauge"),
        ("orq_waiting", "gauge"), ("orq_oldest_ready_age_seconds", "gauge"),
        ("orq_workers_alive", "gauge"), ("orq_completed_per_second_1m", "gauge"),
        ("orq_failed_per_second_15m", "gauge"),
        ("orq_run_seconds", "histogram"), ("orq_wait_seconds", "histogram"),
    ]:
        assert name in families, f"{name} missing from {sorted(families)}"
        assert families[name].type == kind, name
        assert families[name].documentation, name

    def value(family, queue, sample=None):
        for smp in families[family].samples:
            if smp.labels.get("queue") == queue and (sample is None or smp.name == sample):
                return smp.value
        raise AssertionError(f"{family}{{queue={queue}}} missing")

    assert value("orq_enqueued", "email") == 3
    assert value("orq_completed", "email") == 2
    assert value("orq_ready", "email") == 1
    assert value("orq_enqueued", "sms") == 2
    assert value("orq_dead", "sms") == 1
    assert value("orq_ready", "sms") == 1
    # Every sample is named orq_… and labelled with its queue.
    for f in families.values():
        for smp in f.samples:
            assert smp.name.startswith("orq_") and "queue" in smp.labels, smp
    # The same numbers queue_metrics gives any other reader.
    rows = conn.execute(
        "SELECT queue, metric, value FROM queue_metrics WHERE kind IN ('counter', 'gauge') AND metric LIKE '%total'"
    ).fetchall()
    for queue, metric, v in rows:
        assert value(f"orq_{metric[:-6]}", queue) == v
    # Histograms: cumulative buckets ending at +Inf = count; 2 runs of email.
    run = [smp for smp in families["orq_run_seconds"].samples if smp.labels["queue"] == "email"]
    buckets = [smp for smp in run if smp.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf"
    counts = [b.value for b in buckets]
    assert counts == sorted(counts)
    count = [smp.value for smp in run if smp.name.endswith("_count")][0]
    assert counts[-1] == count == 2
    waits = [smp for smp in families["orq_wait_seconds"].samples
             if smp.labels["queue"] == "email" and smp.name.endswith("_count")]
    assert waits[0].value == 2


def test_every_metric_has_the_help_text_of_the_extension(conn, db, serve):
    enqueue(conn, "email")
    orq(db, "alert", "add", "backlog", "ready", ">", "0")
    help_of = dict(conn.execute("SELECT DISTINCT metric, help FROM queue_metrics").fetchall())
    s = serve()
    families = list(text_string_to_metric_families(s.get("/metrics").text))
    assert {f.name for f in families} >= {"orq_ready", "orq_completed", "orq_run_seconds", "orq_alert_firing"}
    for f in families:
        metric = f.name.removeprefix("orq_")
        if f.type == "counter":
            metric += "_total"
        if metric == "alert_firing":  # from queue_alerts; its help is the extension's too
            assert f.documentation == "orq alert rules (queue_alerts): 1 while firing"
            continue
        assert help_of[metric], metric
        assert f.documentation == help_of[metric], metric


def test_the_dashboard_and_prometheus_count_the_same_failures(conn, serve):
    """A failed attempt is one thing: the overview's chart and orq_failed_total
    both take it from the extension. Lost leases are not failures."""

    def one_attempt(options, finish):
        jid = enqueue(conn, "q", "{}", options)
        [job] = claim(conn, "q")
        assert job["id"] == jid
        finish(jid, job["token"])

    def fail(jid, token):
        conn.execute("SELECT queue_fail(?, ?, 'boom')", (jid, token))

    def lose_lease(jid, token):
        time.sleep(0.06)
        # The next claim returns the lost lease first; a job with attempts
        # left is claimed again at once.
        for job in claim(conn, "q"):
            complete_it(job["id"], job["token"])

    complete_it = lambda jid, token: conn.execute("SELECT queue_complete(?, ?)", (jid, token))
    one_attempt(None, complete_it)
    one_attempt('{"max_attempts":2,"backoff":{"base":0.001,"jitter":false}}', fail)  # failed, then ready again
    time.sleep(0.01)
    complete(conn, "q")
    one_attempt('{"max_attempts":1}', fail)  # dead by its error
    one_attempt('{"max_attempts":2,"lease":0.05}', lose_lease)  # expired, then done
    one_attempt('{"max_attempts":1,"lease":0.05}', lose_lease)  # dead by a lost lease

    s = serve()
    families = {f.name: f for f in text_string_to_metric_families(s.get("/metrics").text)}
    [failed_total] = [smp.value for smp in families["orq_failed"].samples if smp.name == "orq_failed_total"]
    [expired_total] = [smp.value for smp in families["orq_expired"].samples if smp.name == "orq_expired_total"]
    chart = s.get("/api/overview").json()["chart"]
    assert (failed_total, expired_total) == (2, 2)
    assert sum(chart["total"]["failed"]) == sum(chart["queues"]["q"]["failed"]) == failed_total


def test_metrics_show_alert_rules(conn, db, serve):
    enqueue(conn, "email")
    orq(db, "alert", "add", "backlog", "ready", ">", "0", "--queue", "email")
    orq(db, "alert", "add", "quiet", "dead_total", ">", "5")
    s = serve("--interval", "0.2s")
    wait_for(lambda: "firing" in json.dumps(s.get("/api/alerts").json()), what="the alert to fire")
    families = {f.name: f for f in text_string_to_metric_families(s.get("/metrics").text)}
    firing = {smp.labels["alert"]: smp.value for smp in families["orq_alert_firing"].samples}
    assert firing == {"backlog": 1, "quiet": 0}


# ------------------------------------------------------------------- /health


def test_health_warns_when_a_worker_dies(conn, db, serve):
    enqueue(conn, "email")
    s = serve()
    r = s.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    checks = {c["name"] for c in r.json()["checks"]}
    assert {"quick_check", "disk_free", "wal_size", "expired_leases", "dead_workers", "dead_jobs", "alerts"} <= checks
    # A worker that heartbeats every 0.2 s is dead after three missed beats.
    conn.execute("""SELECT queue_worker_register('w-short', '{"heartbeat":0.2}')""")
    conn.execute("SELECT queue_worker_heartbeat('w-short')")

    def dead_workers():
        r = s.get("/health")
        check = next(c for c in r.json()["checks"] if c["name"] == "dead_workers")
        return r if check["status"] == "warning" else None

    r = wait_for(dead_workers, what="dead_workers to warn")
    assert r.status_code == 200 and r.json()["status"] == "warning"
    assert "w-short" in next(c for c in r.json()["checks"] if c["name"] == "dead_workers")["detail"]
    assert orq(db, "health", check=False).returncode == 1
    # Stopping it cleanly clears the warning.
    conn.execute("SELECT queue_worker_stop('w-short')")
    assert s.get("/health").json()["status"] == "ok"


def test_health_is_critical_when_the_disk_threshold_is_crossed(conn, db, serve):
    enqueue(conn, "email")
    huge = str(10 ** 12)  # more free megabytes than any disk has
    critical = serve("--disk-crit-mb", huge)
    r = critical.get("/health")
    assert r.status_code == 503
    report = r.json()
    assert report["status"] == "critical"
    assert next(c for c in report["checks"] if c["name"] == "disk_free")["status"] == "critical"
    warning = serve("--disk-warn-mb", huge)
    r = warning.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "warning"
    # A request may set the thresholds itself.
    assert warning.get("/health", params={"disk_crit_mb": huge}).status_code == 503
    assert warning.get("/health", params={"disk_warn_mb": "1", "disk_crit_mb": "0"}).json()["status"] == "ok"
    assert warning.get("/health", params={"nope": "1"}).status_code == 400
    skipped = warning.get("/health", params={"quick_check": "false"}).json()["checks"][0]
    assert skipped["name"] == "quick_check" and skipped["detail"] == "skipped"
    # The dashboard's copy is always 200.
    r = warning.get("/api/health", params={"disk_crit_mb": huge})
    assert r.status_code == 200 and r.json()["status"] == "critical"
    # orq health: the same checks, exit 0 ok, 1 warning, 2 critical.
    assert orq(db, "health", check=False).returncode == 0
    assert orq(db, "health", "--disk-warn-mb", huge, check=False).returncode == 1
    p = orq(db, "--json", "health", "--disk-crit-mb", huge, check=False)
    assert p.returncode == 2 and json.loads(p.stdout)["status"] == "critical"


def test_health_counts_dead_jobs_over_a_threshold(conn, serve):
    make_dead(conn, "email")
    s = serve("--dead-warn", "1")
    assert s.get("/health").json()["status"] == "ok"
    assert s.get("/health", params={"dead_warn": "0"}).json()["status"] == "warning"


# ------------------------------------------------------------- who may ask


def test_the_token_is_required_on_every_request(conn, db, serve):
    jid = make_dead(conn, "email")
    s = serve("--token", "s3cret-T0ken")
    for path in ["/", "/api/overview", "/metrics", "/health", "/events/stream", "/assets/app.js"]:
        assert s.get(path).status_code == 401, path
        assert s.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403, path
    assert s.get("/", headers={"Accept": "text/html"}).text.count("token") >= 1
    ok = {"Authorization": "Bearer s3cret-T0ken"}
    assert s.get("/api/overview", headers=ok).status_code == 200
    assert s.get("/metrics", headers=ok).status_code == 200
    assert s.get("/?token=nope", allow_redirects=False).status_code == 403
    # A browser visits /?token=… once: a cookie, and the token leaves the URL.
    browser = requests.Session()
    r = browser.get(s.url("/jobs?token=s3cret-T0ken"), allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/jobs"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get(s.url("/api/overview"), timeout=10).status_code == 200
    # Actions from the browser need the page's CSRF token, from its origin.
    assert browser.post(s.url(f"/api/jobs/{jid}/retry"), timeout=10).status_code == 403
    csrf = s.csrf(browser)
    assert browser.post(s.url(f"/api/jobs/{jid}/retry"), headers={"X-CSRF-Token": "0" * 64}, timeout=10).status_code == 403
    evil = {"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
    assert browser.post(s.url(f"/api/jobs/{jid}/retry"), headers=evil, timeout=10).status_code == 403
    cross = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
    assert browser.post(s.url(f"/api/jobs/{jid}/retry"), headers=cross, timeout=10).status_code == 403
    assert state_of(conn, jid) == "dead"
    good = {"X-CSRF-Token": csrf, "Origin": s.base}
    r = browser.post(s.url(f"/api/jobs/{jid}/retry"), headers=good, timeout=10)
    assert r.status_code == 200 and r.json() == {"id": jid, "changed": True, "state": "ready"}
    assert state_of(conn, jid) == "ready"
    # A script with the Bearer token needs no CSRF token (browsers never
    # send that header on their own); without any token it is refused.
    assert s.post(f"/api/jobs/{jid}/cancel").status_code == 401
    r = s.post(f"/api/jobs/{jid}/cancel", headers=ok)
    assert r.status_code == 200 and r.json()["changed"] is True
    assert state_of(conn, jid) == "cancelled"


def test_the_token_may_come_from_the_environment(serve):
    s = serve(env={"ORQ_TOKEN": "from-env"})
    assert s.get("/api/overview").status_code == 401
    assert s.get("/api/overview", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_without_a_token_actions_still_need_the_csrf_token_and_a_loopback_host(conn, serve):
    jid = make_dead(conn, "email")
    s = serve()
    assert s.post(f"/api/jobs/{jid}/retry").status_code == 403
    assert s.get("/api/overview", headers={"Host": "evil.example:80"}).status_code == 403
    csrf = s.csrf()
    assert s.post(f"/api/jobs/{jid}/retry", headers={"X-CSRF-Token": csrf, "Host": "evil.example"}).status_code == 403
    r = s.post(f"/api/jobs/{jid}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and state_of(conn, jid) == "ready"
    r = s.post(f"/api/jobs/{jid}/retry", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["changed"] is False
    assert s.post("/api/jobs/999/retry", headers={"X-CSRF-Token": csrf}).status_code == 404
    assert s.get("/api/nope").status_code == 404


def test_read_only_refuses_every_action(conn, serve):
    jid = make_dead(conn, "email")
    s = serve("--read-only", "--token", "t0k")
    ok = {"Authorization": "Bearer t0k"}
    assert 'name="orq-read-only" content="true"' in s.get("/", headers=ok).text
    for path, body in [(f"/api/jobs/{jid}/retry", None), (f"/api/jobs/{jid}/cancel", None),
                       ("/api/queues/email/pause", None), ("/api/purge", {"older_than": 0})]:
        r = s.post(path, headers=ok, json=body)
        assert r.status_code == 403 and "read-only" in r.json()["error"], path
    assert state_of(conn, jid) == "dead"
    assert s.get("/api/jobs", headers=ok).status_code == 200


def test_binding_beyond_loopback_needs_a_token(db, serve):
    p = subprocess.run([ORQ, "--db", db, "serve", "--bind", "0.0.0.0:0"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    assert "without a token" in p.stderr and "--token" in p.stderr
    p = subprocess.run([ORQ, "--db", db, "serve", "--bind", "127.0.0.1:0", "--token", "has space"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    # With a token it starts (and is stopped at once).
    s = serve("--bind", "0.0.0.0:0", "--token", "t")
    assert s.proc.poll() is None


# ----------------------------------------------------------- JSON endpoints


def test_jobs_are_paged_by_keyset_and_filtered(conn, serve):
    ids = [enqueue(conn, "a", json.dumps({"n": i})) for i in range(7)]
    enqueue(conn, "b")
    s = serve()
    page = s.get("/api/jobs", params={"queue": "a", "limit": 3}).json()
    assert [j["id"] for j in page["jobs"]] == ids[6:3:-1]
    assert page["newer"] is None and page["older"] == ids[4]
    page = s.get("/api/jobs", params={"queue": "a", "limit": 3, "before": page["older"]}).json()
    assert [j["id"] for j in page["jobs"]] == ids[3:0:-1]
    assert page["newer"] == ids[3] and page["older"] == ids[1]
    page = s.get("/api/jobs", params={"queue": "a", "limit": 3, "after": page["newer"]}).json()
    assert [j["id"] for j in page["jobs"]] == ids[6:3:-1]
    assert page["newer"] is None and page["older"] == ids[4]
    assert len(s.get("/api/jobs", params={"state": "ready"}).json()["jobs"]) == 8
    assert s.get("/api/jobs", params={"state": "dead"}).json()["jobs"] == []


def test_a_job_comes_with_its_history(conn, serve):
    jid = make_dead(conn, "email")
    s = serve()
    data = s.get(f"/api/jobs/{jid}").json()
    assert data["job"]["payload"] == {"x": 1} and data["job"]["error"] == "boom"
    assert [e["type"] for e in data["history"]] == ["enqueued", "claimed", "dead"]
    assert s.get("/api/jobs/424242").status_code == 404


def test_a_job_comes_with_its_steps_and_progress(conn, serve):
    jid = enqueue(conn, "reports")
    [job] = claim(conn, "reports")
    args = (jid, job["token"])
    conn.execute("""SELECT queue_step_done(?, ?, 'fetch', '{"rows": 3}')""", args)
    conn.execute("SELECT queue_step_fail(?, ?, 'render', 'timeout')", args)
    conn.execute("SELECT queue_progress(?, ?, '0.25')", args)
    s = serve()
    data = s.get(f"/api/jobs/{jid}").json()
    assert data["job"]["progress"] == 0.25
    fetch, render = data["steps"]
    assert isinstance(fetch.pop("recorded_at"), float)
    assert fetch == {"name": "fetch", "result": {"rows": 3}, "failures": 0, "error": None}
    assert render == {"name": "render", "result": None, "recorded_at": None, "failures": 1, "error": "timeout"}
    assert [e["type"] for e in data["history"]] == ["enqueued", "claimed", "step", "step_failed"]
    assert s.get("/api/jobs", params={"state": "running"}).json()["jobs"][0]["progress"] == 0.25
    assert s.get(f"/api/jobs/{enqueue(conn, 'reports')}").json()["steps"] == []


def test_a_workflow_comes_with_its_graph_laid_out(conn, db, serve, tmp_path):
    spec = {"name": "etl", "jobs": [
        {"key": "extract", "queue": "q"},
        {"key": "left", "queue": "q", "depends_on": ["extract"]},
        {"key": "right", "queue": "q", "depends_on": ["extract"]},
        {"key": "load", "queue": "q", "depends_on": ["left", "right"]}]}
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(spec))
    wid = int(orq(db, "workflow", "submit", str(path)).stdout)
    complete(conn, "q")
    s = serve()
    assert s.get("/api/workflows").json()["workflows"][0]["id"] == wid
    data = s.get(f"/api/workflows/{wid}").json()
    nodes = {n["key"]: n for n in data["graph"]["nodes"]}
    assert {k: n["depth"] for k, n in nodes.items()} == {"extract": 0, "left": 1, "right": 1, "load": 2}
    assert nodes["extract"]["state"] == "done" and nodes["left"]["state"] == "ready"
    assert len(data["graph"]["edges"]) == 4
    assert nodes["extract"]["x"] < nodes["left"]["x"] < nodes["load"]["x"]
    assert s.get("/api/workflows/99").status_code == 404


def test_workers_and_purge(conn, serve):
    conn.execute("""SELECT queue_worker_register('w1', '{"concurrency":4,"queues":["email"],"host":"h"}')""")
    done = enqueue(conn, "email")
    complete(conn, "email")
    enqueue(conn, "email")  # purge keeps the newest job (ids are never reused): make it another
    s = serve()
    data = s.get("/api/workers").json()
    assert data["workers"][0]["name"] == "w1" and data["workers"][0]["concurrency"] == 4
    assert "resources" in data
    csrf = {"X-CSRF-Token": s.csrf()}
    assert s.post("/api/purge", headers=csrf, json={"queue": "email", "older_than": "1h"}).json() == {"purged": 0}
    assert s.post("/api/purge", headers=csrf, json={"queue": "email", "older_than": "x"}).status_code == 400
    assert s.post("/api/purge", headers=csrf, json={"queue": "email", "older_than": 0}).json() == {"purged": 1}
    assert conn.execute("SELECT count(*) FROM queue_jobs WHERE id = ?", (done,)).fetchone()[0] == 0
    assert s.post("/api/queues/email/pause", headers=csrf).json() == {"queue": "email", "changed": True}
    assert s.get("/api/overview").status_code == 200


def test_the_overview_shows_how_long_each_queue_keeps_finished_jobs(conn, serve):
    enqueue(conn, "email")
    conn.execute("""SELECT queue_configure('sms', '{"retention": {"done": 3600, "dead": null}}')""")
    queues = {q["queue"]: q for q in serve().get("/api/overview").json()["queues"]}
    assert queues["email"]["retention"] == {"done": 604800.0, "dead": 2592000.0, "cancelled": 604800.0}
    assert queues["sms"]["retention"] == {"done": 3600.0, "dead": None, "cancelled": 604800.0}


def read_snapshot(lines):
    """The next `event: snapshot` of an event stream, parsed."""
    event = None
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "snapshot":
            return json.loads(line[5:])


def test_the_overview_and_metrics_show_limits_and_what_they_hold_back(conn, serve):
    conn.execute("""SELECT queue_configure('api', '{"group_max_running": 1, "max_running": 5}')""")
    for group in ["a", "a", "a", "b"]:
        enqueue(conn, "api", "{}", json.dumps({"group": group}))
    assert len(claim(conn, "api", 10)) == 2
    s = serve()
    limits = s.get("/api/overview").json()["limits"]
    rows = [(l["scope"], l["grp"], l["max_running"], l["running"], l.get("held_back")) for l in limits]
    assert rows == [("each group", None, 1, None, None), ("queue", None, 5, 2, 2.0),
                    ("group", "a", 1, 1, None), ("group", "b", 1, 1, None)]
    families = {f.name: f for f in text_string_to_metric_families(s.get("/metrics").text)}
    value = lambda name: [x.value for x in families[name].samples if x.labels.get("queue") == "api"]
    assert value("orq_held_back") == [2.0]
    assert value("orq_busiest_group_running") == [1.0]
    assert value("orq_groups_running") == [2.0]


def test_the_event_stream_pushes_a_snapshot_when_the_database_changes(conn, db, serve):
    enqueue(conn, "email")
    s = serve("--interval", "30s")  # only commits can explain a new snapshot
    with requests.get(s.url("/events/stream"), stream=True, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.iter_lines(decode_unicode=True)
        first = read_snapshot(lines)
        assert first["totals"]["ready"] == 1
        assert len(first["chart"]["total"]["depth"]) == 60
        started = time.monotonic()
        orq(db, "enqueue", "email", "{}")
        second = read_snapshot(lines)
        assert second["totals"]["ready"] == 2 and second["seq"] > first["seq"]
        assert time.monotonic() - started < 5


def test_the_event_stream_pushes_a_snapshot_on_a_commit_that_changes_no_count(conn, serve):
    enqueue(conn, "reports")
    [job] = claim(conn, "reports")
    s = serve("--interval", "30s")  # only commits can explain a new snapshot
    with requests.get(s.url("/events/stream"), stream=True, timeout=10) as r:
        lines = r.iter_lines(decode_unicode=True)
        first = read_snapshot(lines)
        started = time.monotonic()
        # No event, no count: an open job page still has its progress to show.
        conn.execute("SELECT queue_progress(?, ?, '0.5')", (job["id"], job["token"]))
        second = read_snapshot(lines)
        assert second["seq"] > first["seq"] and second["totals"] == first["totals"]
        assert time.monotonic() - started < 5


def test_on_alert_runs_the_command_with_the_alert(conn, db, serve, tmp_path):
    out = tmp_path / "alert.json"
    env_out = tmp_path / "alert.env"
    orq(db, "alert", "add", "backlog", "ready", ">=", "2", "--queue", "email")
    hook = f'cat > {out}.tmp && mv {out}.tmp {out}; env | grep ^ORQ_ALERT_ | sort > {env_out}'
    s = serve("--on-alert", hook, "--interval", "0.2s")
    enqueue(conn, "email")
    time.sleep(0.6)
    assert not out.exists()
    enqueue(conn, "email")
    wait_for(lambda: out.exists() and env_out.exists() and env_out.read_text(), what="the hook to run")
    alert = json.loads(out.read_text())
    assert alert["name"] == "backlog" and alert["queue"] == "email" and alert["value"] == 2
    assert env_out.read_text().splitlines() == [
        "ORQ_ALERT_NAME=backlog", "ORQ_ALERT_QUEUE=email", f"ORQ_ALERT_VALUE={alert['value']}"]
    assert any("alert backlog firing" in line for line in s.lines)
    assert s.get("/health").json()["status"] == "critical"


def test_pages_are_served_with_assets_and_strict_headers(serve):
    s = serve()
    for path in ["/", "/jobs", "/jobs/5", "/dead", "/workflows", "/workflows/1", "/workers"]:
        r = s.get(path)
        assert r.status_code == 200 and '<main id="main">' in r.text, path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
    assert s.get("/assets/app.js").headers["content-type"].startswith("text/javascript")
    assert s.get("/assets/style.css").headers["content-type"].startswith("text/css")
    assert s.get("/assets/nope.js").status_code == 404


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_the_server_stops_on_a_signal_with_streams_open(serve, signal_name):
    import signal

    s = serve()
    with requests.get(s.url("/events/stream"), stream=True, timeout=10) as r:
        next(r.iter_lines())
        s.proc.send_signal(getattr(signal, signal_name))
        assert s.proc.wait(10) == 0


def test_orq_alert_add_list_rm(db):
    p = orq(db, "alert", "add", "slow", "oldest_ready_age_seconds", ">", "60", "--queue", "email", "--for", "5m")
    assert "slow" in p.stdout
    rules = json.loads(orq(db, "--json", "alert", "list").stdout)
    assert rules[0]["name"] == "slow" and rules[0]["for_seconds"] == 300 and rules[0]["state"] == "ok"
    assert orq(db, "alert", "add", "bad", "nope", ">", "1", check=False).returncode == 2
    assert orq(db, "alert", "rm", "slow").returncode == 0
    assert orq(db, "alert", "rm", "slow", check=False).returncode == 1
    assert json.loads(orq(db, "--json", "alert", "list").stdout) == []


def test_orq_health_on_a_database_that_cannot_open(tmp_path):
    p = subprocess.run([ORQ, "--db", str(tmp_path / "no" / "such" / "dir.db"), "--json", "health"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    report = json.loads(p.stdout)
    assert report["status"] == "critical" and report["checks"][0]["name"] == "database"
    assert os.path.exists(tmp_path) and not (tmp_path / "no").exists()


def test_orq_health_on_a_missing_file_is_critical_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    p = subprocess.run([ORQ, "--db", str(missing), "--json", "health"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2
    report = json.loads(p.stdout)
    assert report["checks"][0]["name"] == "database" and "does not exist" in report["checks"][0]["detail"]
    assert not missing.exists()


def test_orq_health_on_a_corrupt_database_is_critical_not_exit_3(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database file" * 200)
    p = subprocess.run([ORQ, "--db", str(bad), "--json", "health"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 2, p.stderr
    assert json.loads(p.stdout)["status"] == "critical"


def test_non_finite_thresholds_are_refused_by_name(db):
    for args in (["health", "--disk-warn-mb", "nan"], ["alert", "add", "x", "ready", ">", "inf"]):
        p = orq(db, *args, check=False)
        assert p.returncode == 2 and ("megabytes" in p.stderr or "finite" in p.stderr), p.stderr
    assert json.loads(orq(db, "--json", "alert", "list").stdout) == []


def test_a_webhook_signals_an_awaiting_job_with_the_bearer_token(conn, serve):
    conn.execute("SELECT queue_enqueue('orders', '{}')")
    jid, token = conn.execute("SELECT id, token FROM queue_claim('w', 1)").fetchone()
    conn.execute("SELECT queue_await(?, ?, 'paid-7', 3600)", (jid, token))
    s = serve("--token", "s3cret-T0ken")
    ok = {"Authorization": "Bearer s3cret-T0ken"}
    r = s.post("/api/signals/paid-7", headers=ok, data='{"amount": 7}')
    assert r.status_code == 200 and r.json() == {"signal": "paid-7", "woken": 1}, r.text
    token = conn.execute("SELECT token FROM queue_claim('w', 1)").fetchone()[0]
    assert conn.execute("SELECT queue_step(?, ?, 'signal:paid-7')", (jid, token)).fetchone()[0] == '{"amount": 7}'
    assert s.post("/api/signals/paid-7", headers=ok, data="{bad").status_code == 400
    assert s.post("/api/signals/paid-7", data="{}").status_code == 401
    assert s.post("/api/signals/later", headers=ok).json() == {"signal": "later", "woken": 0}
