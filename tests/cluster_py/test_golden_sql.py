"""The golden SQL files (tests/sql/*.sql: the quickstart, a job's life,
every error path, transactions, introspection) through a dqlite cluster
(issue 18): each statement is sent through `orq.Queue.cluster`'s adapter to
a 3-node cluster and through apsw to a file, and both must answer alike,
rows or error (its kind and its message). The nodes must live through
every statement.
"""
import pathlib
import sqlite3
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "cluster"))
from nodes import Cluster  # noqa: E402

from orq._cluster import ClusterDb  # noqa: E402
from orq._db import Db  # noqa: E402

GOLDEN = sorted((pathlib.Path(__file__).resolve().parents[1] / "sql").glob("*.sql"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("golden"), 3)
    c.wait_for_leader()
    yield c
    c.stop()


def statements(path):
    """The file's SQL statements, without the sqlite3 shell's dot commands."""
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (line.startswith(".") or not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line + "\n"
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    assert not pending.strip(), f"{path.name} ends inside a statement"


def answer(db, sql):
    try:
        return ("rows", db.dicts(sql))
    except Exception as e:  # the kind (orq.errors' class) and the message
        return ("error", type(e).__name__, str(e))


@pytest.mark.parametrize("golden", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_a_golden_file_answers_alike_on_a_file_and_on_the_cluster(cluster, tmp_path, golden):
    file = Db.open(str(tmp_path / "file.db"), "apsw", 5.0, False)
    node = ClusterDb.connect(cluster.addresses[2], f"{golden.stem}.db")
    errors = 0
    for sql in statements(golden):
        on_file, on_cluster = answer(file, sql), answer(node, sql)
        assert on_cluster == on_file, sql
        errors += on_file[0] == "error"
        dead = [i for i, p in cluster.procs.items() if p.poll() is not None]
        assert not dead, f"node(s) {dead} died on: {sql}"
    if golden.stem == "03_errors":
        assert errors >= 30
