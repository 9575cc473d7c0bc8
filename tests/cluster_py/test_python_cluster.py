"""The Python package on a dqlite cluster (issue 18): ``orq.Queue.cluster``
through dqlite-dbapi, which needs Python 3.13 (tests/run makes a venv of
pyenv's 3.13 for it, target/py313). A job enqueued from Python is run by
`orq worker --cluster`, and orq's errors keep their kinds through the
cluster.
"""
import json
import pathlib
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "cluster"))
from fixtures import shared_cluster  # noqa: E402, F401 (a fixture)
from nodes import ORQ  # noqa: E402

import orq  # noqa: E402


def test_a_job_goes_from_python_to_the_clusters_worker_and_back(cluster):
    q = orq.Queue.cluster(cluster.addresses[2], name="py")
    job = q.enqueue("py", {"cmd": "echo '{\"ok\": true}'"}, key="once")
    assert q.enqueue("py", {"cmd": "other"}, key="once") == job  # the key holds across the cluster
    subprocess.run([ORQ, "--cluster", cluster.spec, "worker", "-q", "py", "--until-empty", "--log-format", "quiet"],
                   check=True, timeout=60)
    assert q.job(job)["state"] == "done"
    assert q.job(job)["result"] == {"ok": True}


def test_claims_complete_and_transactions_write_through_the_leader(cluster):
    q = orq.Queue.cluster(cluster.spec.split(",")[0], name="py-worker")
    with q.transaction():
        ids = [q.enqueue("tx", {"n": n}) for n in range(3)]
    with q.claim("tx") as job:
        assert job.id == ids[0] and job.payload == {"n": 0}
    assert q.job(ids[0])["state"] == "done"
    rows = {s["queue"]: s for s in q.stats()}
    assert rows["tx"]["ready"] == 2


def test_errors_keep_their_kind_and_change_nothing(cluster):
    q = orq.Queue.cluster(cluster.addresses[1])
    with pytest.raises(orq.errors.NotFound):
        q.cancel(999_999)
    with pytest.raises(orq.errors.InvalidArgument):
        q.enqueue("bad name", {})
    assert all(s["queue"] != "bad name" for s in q.stats())


def test_wait_asks_the_cluster_until_a_job_comes_or_time_is_up(cluster):
    q = orq.Queue.cluster(cluster.addresses[1], name="waiter")
    started = time.monotonic()
    assert q.wait("quiet", timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 5
    # Another client enqueues while this one waits in claim_many.
    later = threading.Timer(0.3, lambda: orq.Queue.cluster(cluster.addresses[2]).enqueue("quiet", {"n": 1}))
    later.start()
    started = time.monotonic()
    jobs = q.claim_many("quiet", 5, wait=10)
    later.join()
    assert [j.payload for j in jobs] == [{"n": 1}]
    assert time.monotonic() - started < 5
