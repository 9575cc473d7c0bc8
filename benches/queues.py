"""orq and the ceiling G behind one small interface, for benches/bench.py and
benches/callgrind.py. Both are driven from Python's stdlib sqlite3 on
connections with the same pragmas (WAL, synchronous=NORMAL,
temp_store=MEMORY): orq through its extension in the forms of orq's README,
G through the hand-written statements of benches/proofs.py. A figure written
once against this interface measures both, so that each ratio compares two
runs of the same Python code.

    q = Orq(path)  or  G(path)      # creates the schema if it is not there
    q.enqueue(payload); q.enqueue_many(json_array)
    jobs = q.claim(n)               # [(id, token), ...]
    q.complete(job) -> 1; q.complete_many(jobs) -> how many; q.done() -> jobs done
"""

import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proofs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXT = str(ROOT / "target/release/liborq")


def connect(path):
    """A connection the way orq's README recommends, for either queue."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


class Orq:
    """orq through its SQL functions, queue 'q'; `worker` names the claimer."""

    name = "orq"

    def __init__(self, path, worker="bench"):
        self.conn = connect(path)
        self.worker = worker
        self.conn.enable_load_extension(True)
        self.conn.load_extension(EXT)
        self.conn.execute("SELECT orq_migrate()")

    def enqueue(self, payload):
        self.conn.execute("SELECT queue_enqueue('q', ?)", (payload,))

    def enqueue_many(self, batch):
        self.conn.execute("SELECT queue_enqueue_many('q', ?)", (batch,))

    def claim(self, n):
        return self.conn.execute("SELECT id, token FROM queue_claim(?, ?, 'q')", (self.worker, n)).fetchall()

    def complete(self, job):
        return self.conn.execute("SELECT queue_complete(?, ?)", job).fetchone()[0]

    def complete_many(self, jobs):
        return self.conn.execute("SELECT queue_complete_many(?)", (json.dumps(jobs),)).fetchone()[0]

    def done(self):
        return self.conn.execute("SELECT count(*) FROM orq_jobs WHERE queue = 'q' AND state = 'done'").fetchone()[0]


class G:
    """The ceiling: one table, one partial index, UPDATE ... RETURNING
    (proofs.py's G_* statements, queue 'q'). It has no worker names."""

    name = "G"

    def __init__(self, path, worker=None):
        self.conn = connect(path)
        if not self.conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'jobs'").fetchone():
            self.conn.executescript(proofs.G_SCHEMA)

    def enqueue(self, payload):
        self.conn.execute(proofs.G_INSERT_ONE, (payload,))

    def enqueue_many(self, batch):
        self.conn.execute(proofs.G_INSERT_MANY, (batch,))

    def claim(self, n):
        return self.conn.execute(proofs.G_CLAIM, {"n": n}).fetchall()

    def complete(self, job):
        return self.conn.execute(proofs.G_COMPLETE_ONE, {"id": job[0], "token": job[1]}).rowcount

    def complete_many(self, jobs):
        return self.conn.execute(proofs.G_COMPLETE, (json.dumps(jobs),)).rowcount

    def done(self):
        return self.conn.execute("SELECT count(*) FROM jobs WHERE state = 'done'").fetchone()[0]


SYSTEMS = {q.name: q for q in (Orq, G)}
