"""The programs in examples/ run as their comments say."""

import importlib.util
import io
import json
import signal
import subprocess
import time
from pathlib import Path

import orq
from conftest import only

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def outbox_app(db_path, monkeypatch):
    monkeypatch.setenv("SHOP_DB", db_path)
    spec = importlib.util.spec_from_file_location("outbox_app", EXAMPLES / "outbox_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.connect().close()
    return module


def call(app, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}
    status = []
    out = b"".join(app.app(environ, lambda s, headers: status.append(s)))
    return status[0], json.loads(out)


@only("sqlite3")  # the app opens its connections with the stdlib driver
def test_the_outbox_app_commits_the_order_and_its_job_together(db_path, monkeypatch, q):
    app = outbox_app(db_path, monkeypatch)
    status, made = call(app, "POST", "/orders", {"item": "book"})
    assert status == "201 Created"
    assert q.db.rows("SELECT id, item, job FROM orders") == [(made["order"], "book", made["job"])]
    assert q.job(made["job"])["payload"] == {"order": made["order"], "item": "book"}
    # A failure after the insert leaves neither the order nor the job.
    monkeypatch.setattr(app.orq.Queue, "enqueue", lambda *a, **k: 1 / 0)
    try:
        call(app, "POST", "/orders", {"item": "lamp"})
    except ZeroDivisionError:
        pass
    assert q.db.rows("SELECT count(*) FROM orders") == [(1,)] and sum(s["ready"] for s in q.stats()) == 1
    assert call(app, "POST", "/orders", {})[0] == "400 Bad Request"


@only("sqlite3")
def test_the_node_worker_runs_the_outbox_jobs(db_path, monkeypatch, q, tmp_path):
    app = outbox_app(db_path, monkeypatch)
    orders = [call(app, "POST", "/orders", {"item": f"item-{i}"})[1] for i in range(3)]
    # As a user's project would have it: node_modules/orq next to the script.
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules/orq").symlink_to(ROOT / "bindings/node")
    (tmp_path / "worker.mjs").write_text((EXAMPLES / "worker.mjs").read_text())
    worker = subprocess.Popen(["node", str(tmp_path / "worker.mjs"), db_path], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(q.job(o["job"])["state"] != "done" for o in orders):
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0
    assert [q.job(o["job"])["result"] for o in orders] == [{"tracking": f"TRK-{o['order']}"} for o in orders]
    assert "stopped: 3 done, 0 failed" in out


def test_the_shell_pipeline(tmp_path):
    ext = orq.loadable_path()
    out = subprocess.run([str(EXAMPLES / "pipeline.sh"), ext, str(tmp_path / "p.db")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    assert ["count", "4", "0"] in lines and ["fetch", "4", "0"] in lines
    assert [line[3] for line in lines if len(line) >= 4 and line[1] == "1" and line[2] == "fetch"] == ["enqueued", "claimed", "completed"]
