"""The SQL API's examples through a dqlite cluster (issue 18): the golden
SQL files (tests/sql/*.sql: the quickstart, a job's life, every error path,
transactions, introspection) and every SQL example of the reference
(docs/sql/*.md, a page's examples in order, from the docs' fixed clock).
Each statement is sent through `orq.Queue.cluster`'s adapter to a 3-node
cluster and through apsw to a file, and both must answer alike, rows or
error (its kind and its message). The nodes must live through every
statement.
"""
import pathlib
import re
import sqlite3
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "cluster"))
from fixtures import shared_cluster  # noqa: E402, F401 (a fixture)

from orq._cluster import ClusterDb  # noqa: E402
from orq._db import Db  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests" / "sql").glob("*.sql"))
REFERENCE = sorted((ROOT / "docs" / "sql").glob("*.md"))
DOCS_CLOCK = 1800000000  # tests/docs/test_docs.py's CLOCK
# Answers that differ by design: orq_debug() describes the host (its SQLite,
# "replicated", the journal mode), and on a cluster queue_wait only asks.
HOST_SPECIFIC = ("orq_debug(", "queue_wait(")


def statements(text):
    """The SQL statements of a script, without the sqlite3 shell's dot commands."""
    pending = ""
    for line in text.splitlines():
        if not pending and (line.startswith(".") or not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line + "\n"
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    assert not pending.strip(), "the script ends inside a statement"


def sql_examples(page):
    """The ```sql blocks of a page, in order, as one script."""
    blocks = re.findall(r"^```sql\n(.*?)^```$", page.read_text(), flags=re.M | re.S)
    return f"SELECT orq_clock({DOCS_CLOCK});\n" + "".join(blocks)


def answer(db, sql):
    try:
        return ("rows", db.dicts(sql))
    except Exception as e:  # the kind (orq.errors' class) and the message
        return ("error", type(e).__name__, str(e))


def alike(cluster, tmp_path, name, script):
    """Runs `script` on a file and on the cluster's database `name`; returns
    how many statements failed (on both)."""
    file = Db.open(str(tmp_path / "file.db"), "apsw", 5.0, False)
    node = ClusterDb.connect(cluster.addresses[2], f"{name}.db")
    errors = 0
    for sql in statements(script):
        on_file, on_cluster = answer(file, sql), answer(node, sql)
        if any(f in sql for f in HOST_SPECIFIC):
            assert on_cluster[0] == on_file[0] == "rows", (sql, on_file, on_cluster)
        else:
            assert on_cluster == on_file, sql
        errors += on_file[0] == "error"
        dead = [i for i, p in cluster.procs.items() if p.poll() is not None]
        assert not dead, f"node(s) {dead} died on: {sql}"
    return errors


@pytest.mark.parametrize("golden", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_a_golden_file_answers_alike_on_a_file_and_on_the_cluster(cluster, tmp_path, golden):
    errors = alike(cluster, tmp_path, golden.stem, golden.read_text())
    if golden.stem == "03_errors":
        assert errors >= 30


@pytest.mark.parametrize("page", REFERENCE, ids=[p.stem for p in REFERENCE])
def test_the_references_examples_answer_alike_on_a_file_and_on_the_cluster(cluster, tmp_path, page):
    alike(cluster, tmp_path, f"docs-{page.stem}", sql_examples(page))
