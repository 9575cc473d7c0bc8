"""orq inside a dqlite node (issue 18): a program that embeds dqlite
registers orq in every connection the node opens (tests/cluster/
dqlite_host.c), and clients send SQL through the cluster with the `dqlite`
shell. Loading orq used to kill the node at its first write; here the node
serves orq's functions and survives every error orq can raise. Clusters of
orq-nodes are tested beside it (failover, serve, moving a queue) and in
tests/cluster_py (every golden SQL file through a cluster).
"""
import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXT = os.environ.get("ORQ_EXT", str(ROOT / "target" / "release" / "liborq.so"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A one-node cluster on a free loopback port; yields `sql(statement)`."""
    work = tmp_path_factory.mktemp("dqlite")
    host = work / "dqlite_host"
    subprocess.run(["cc", "-O1", "-o", str(host), str(ROOT / "tests/cluster/dqlite_host.c"),
                    "-ldqlite", "-lsqlite3", "-ldl"], check=True)
    (work / "data").mkdir()
    address = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([str(host), EXT, address, str(work / "data")], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"

    def sql(statement):
        done = subprocess.run(["dqlite", "-s", address, "orq", statement], capture_output=True, text=True,
                              timeout=30)
        assert proc.poll() is None, f"the node died on: {statement}"
        return done

    yield sql
    proc.kill()
    proc.wait()


def rows(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()


def test_a_job_goes_through_the_cluster(node):
    assert rows(node("SELECT orq_version()")) == ["v0.1.0"]
    assert rows(node("""SELECT queue_enqueue('mail', '{"to":"a@b.c"}')""")) == ["1"]
    assert rows(node("SELECT id, payload FROM queue_claim('w', 5)")) == ['1|{"to":"a@b.c"}']
    assert rows(node("SELECT queue_complete(1, 1048577)")) == ["1"]
    assert rows(node("SELECT id, state FROM queue_jobs")) == ["1|done"]
    assert rows(node("SELECT job, type FROM queue_events ORDER BY seq")) == ["1|enqueued", "1|claimed", "1|completed"]


@pytest.mark.parametrize("statement", [
    "SELECT queue_enqueue('mail', 'not json')",
    "SELECT queue_enqueue(NULL, '{}')",
    "SELECT queue_enqueue('bad name', '{}')",
    """SELECT queue_enqueue('mail', '{}', '{"priorty": 1}')""",
    "SELECT queue_complete(999, 1)",
    "SELECT queue_fail('x')",
    "SELECT * FROM queue_claim('w', -1)",
    "SELECT queue_configure('mail', '[]')",
    """SELECT queue_configure('mail', '{"rate": {"limit": 1, "per": 0}}')""",
    "SELECT orq_clock('soon')",
    "SELECT * FROM queue_history(NULL)",
])
def test_every_error_is_an_error_and_the_node_lives(node, statement):
    done = node(statement)
    assert done.returncode != 0, done.stdout
    assert rows(node("SELECT count(*) FROM queue_jobs WHERE queue = 'mail'")) in (["0"], ["1"])
