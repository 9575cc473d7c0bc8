#!/usr/bin/python3
"""Where orq's time goes, against the hand-made ceiling G: the three
measurements behind the missed targets of benches/RESULTS.md.

1. WAL frames (pages) written per job and operation, orq vs G: a commit's
   cost grows with the pages it writes (figures A and C at batch 1).
2. orq's schema built up layer by layer on raw SQL (no extension), each
   layer run through the shapes of figures B, A, C at batch 100 and C at
   batch 1 beside G: what each index and trigger costs per job, and how
   near G the schema alone can come.
3. One thread draining through one connection or two taking turns: what
   several processes cost before any of them waits for the lock; and how
   much of one process's drain is inside orq's calls, each a write
   transaction that other processes must wait for (figure D).
4. The per-job history without its index: the whole schema, the same
   without orq_events_job, and without it but with each event pointing at
   the job's previous one (the job row at its last), so that a job's
   history is still a walk of rowid seeks instead of a scan of the trail.

    /usr/bin/python3 benches/proofs.py     (after cargo build --release)
"""

import functools
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
EXT = str(ROOT / "target/release/liborq")
MIGRATIONS = "\n".join(p.read_text() for p in sorted((ROOT / "sql/migrations").glob("*.sql")))
PAYLOAD = '{"user_id":1,"template":"welcome-email","locale":"en-GB","attempt_hint":"none","x":"pad"}'
G_SCHEMA = """CREATE TABLE jobs (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, state TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, token INTEGER, lease_until INTEGER);
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at) WHERE state = 'ready';"""


@functools.cache
def work():
    """This script's directory of databases, made on first use: bench.py and
    callgrind.py import the G statements, and each of their processes would
    otherwise leave an empty directory behind."""
    return Path(tempfile.mkdtemp(prefix="orq-proofs-"))


def connect(name, orq=False, count_frames=False):
    path = work() / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA temp_store = MEMORY")
    if count_frames:
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # the WAL's size then counts every frame
    if orq:
        conn.enable_load_extension(True)
        conn.load_extension(EXT)
        conn.execute("SELECT orq_migrate()")
    return conn, path


def payloads(n):
    """A JSON array of n copies of PAYLOAD."""
    return "[" + ",".join([PAYLOAD] * n) + "]"


def frames(path):
    return os.path.getsize(f"{path}-wal") // (4096 + 24)


def per_job(path, step, n=100):
    before = frames(path)
    for i in range(n):
        step(i)
    return (frames(path) - before) / n


def wal_frames():
    conn, path = connect("frames.db", orq=True, count_frames=True)
    conn.execute("SELECT queue_enqueue('q', '{}')")
    print("WAL frames per job (autocommit, batch 1):")
    print(f"  orq enqueue   {per_job(path, lambda i: conn.execute('SELECT queue_enqueue(?, ?)', ('q', PAYLOAD))):.1f}")
    claimed, claim = [], "SELECT id, token FROM queue_claim('w', 1, 'q')"
    print(f"  orq claim     {per_job(path, lambda i: claimed.extend(conn.execute(claim).fetchall())):.1f}")
    print(f"  orq complete  {per_job(path, lambda i: conn.execute('SELECT queue_complete(?, ?)', claimed[i])):.1f}")
    conn.execute("""SELECT queue_configure('q', '{"events": false}')""")
    print(f"  orq enqueue, events off  {per_job(path, lambda i: conn.execute('SELECT queue_enqueue(?, ?)', ('q', PAYLOAD))):.1f}")
    g, gpath = connect("g-frames.db", count_frames=True)
    g.executescript(G_SCHEMA)
    g.execute("INSERT INTO jobs (queue, state, run_at, payload) VALUES ('q', 'ready', 0, '{}')")
    insert = "INSERT INTO jobs (queue, state, run_at, payload) VALUES ('q', 'ready', 0, ?)"
    print(f"  G insert      {per_job(gpath, lambda i: g.execute(insert, (PAYLOAD,))):.1f}")
    g_claimed = []
    claim = "UPDATE jobs SET state = 'running', token = id WHERE id = (SELECT id FROM jobs WHERE queue = 'q' AND state = 'ready' ORDER BY priority DESC, run_at, id LIMIT 1) RETURNING id, token"
    print(f"  G claim       {per_job(gpath, lambda i: g_claimed.extend(g.execute(claim).fetchall())):.1f}")
    done = "UPDATE jobs SET state = 'done' WHERE id = ? AND token = ?"
    print(f"  G complete    {per_job(gpath, lambda i: g.execute(done, g_claimed[i])):.1f}")


# Layer by layer: what is dropped from orq's real schema at each level. The
# statements on orq's tables say OR FAIL, as orq's own do (sql.rs: without
# it, a statement that fires triggers gets a statement journal).
LAYERS = {
    1: ("30 columns + ready index", ["orq_jobs_running", "orq_jobs_finished"]),
    2: ("+ running index", ["orq_jobs_finished"]),
    3: ("+ finished index", []),
    4: ("+ key, workflow, waiting indexes", []),
    5: ("+ event triggers", []),
    6: ("+ dependency triggers (orq)", []),
}
CLAIM = """UPDATE OR FAIL orq_jobs SET state = 'running', attempts = attempts + 1, leases = leases + 1,
  token = id * 1048576 + (leases + 1) % 1048576, worker = 'w', lease_until = :now + lease_ms,
  started_at = :now, updated_at = :now, event = 'claimed'
WHERE id IN (SELECT id FROM orq_jobs WHERE queue = 'q' AND state = 'ready' AND run_at <= :now
             ORDER BY priority DESC, run_at, id LIMIT :n)
RETURNING id, token"""
COMPLETE = """UPDATE OR FAIL orq_jobs SET state = 'done', event = 'completed', result = NULL, finished_at = :now,
  lease_until = NULL, updated_at = :now
FROM (SELECT value ->> 0 AS id, value ->> 1 AS token FROM json_each(:jobs)) AS c
WHERE orq_jobs.id = c.id AND orq_jobs.state = 'running' AND orq_jobs.token = c.token"""
COMPLETE_ONE = """UPDATE OR FAIL orq_jobs SET state = 'done', event = 'completed', result = NULL, finished_at = :now,
  lease_until = NULL, updated_at = :now
WHERE id = :id AND state = 'running' AND token = :token"""
G_CLAIM = """UPDATE jobs SET state = 'running', attempts = attempts + 1, token = id * 1048576 + attempts + 1,
  lease_until = 30000
WHERE id IN (SELECT id FROM jobs WHERE queue = 'q' AND state = 'ready' AND run_at <= 1
             ORDER BY priority DESC, run_at, id LIMIT :n)
RETURNING id, token"""
G_COMPLETE_ONE = "UPDATE jobs SET state = 'done' WHERE id = :id AND state = 'running' AND token = :token"
G_COMPLETE = """UPDATE jobs SET state = 'done' FROM (SELECT value ->> 0 AS id, value ->> 1 AS token FROM json_each(?)) AS c
WHERE jobs.id = c.id AND jobs.state = 'running' AND jobs.token = c.token"""
INSERT_MANY = """INSERT OR FAIL INTO orq_jobs (queue, state, run_at, payload, max_attempts, lease_ms, created_at, updated_at, event)
SELECT 'q', 'ready', 0, value, 5, 30000, 0, 0, 'enqueued' FROM json_each(?)"""
G_INSERT_MANY = "INSERT INTO jobs (queue, state, run_at, payload) SELECT 'q', 'ready', 0, value FROM json_each(?)"
INSERT_ONE = """INSERT OR FAIL INTO orq_jobs (queue, state, run_at, payload, max_attempts, lease_ms, created_at, updated_at, event)
VALUES ('q', 'ready', 0, ?, 5, 30000, 0, 0, 'enqueued')"""
G_INSERT_ONE = "INSERT INTO jobs (queue, state, run_at, payload) VALUES ('q', 'ready', 0, ?)"
JOBS = 20_000  # figures B and C at batch 100
SINGLES = 10_000  # figures A and C at batch 1 (a transaction per statement)
SHAPES = [f"B: enqueue {JOBS:,} in one INSERT ... SELECT FROM json_each",
          f"A: enqueue {SINGLES:,}, an INSERT per transaction",
          "C: claim 100 + complete 100 per transaction",
          "C: claim 1 + complete 1, a transaction each"]


def layer(level):
    """orq's schema up to `level`, raw SQL: the rate of each of SHAPES."""
    conn, _ = connect(f"layer{level}.db")
    conn.executescript(MIGRATIONS)
    drops = LAYERS[level][1]
    if level < 6:
        drops = drops + ["TRIGGER orq_jobs_children"]
    if level < 5:
        drops = drops + ["TRIGGER orq_jobs_event_update", "TRIGGER orq_jobs_event_error", "TRIGGER orq_jobs_event_insert"]
    if level < 4:
        drops = drops + ["orq_jobs_key", "orq_jobs_any_key", "orq_jobs_workflow", "orq_jobs_waiting"]
    for thing in drops:
        conn.execute(f"DROP {thing}" if thing.startswith("TRIGGER") else f"DROP INDEX {thing}")
    return orq_shapes(conn)


def orq_shapes(conn):
    """The rates of SHAPES on a database with (a version of) orq's schema."""
    return shapes(conn, INSERT_MANY, INSERT_ONE,
                  lambda n: conn.execute(CLAIM, {"now": 1, "n": n}).fetchall(),
                  lambda jobs: conn.execute(COMPLETE, {"now": 2, "jobs": json.dumps(jobs)}),
                  lambda job: conn.execute(COMPLETE_ONE, {"now": 2, "id": job[0], "token": job[1]}))


def ceiling():
    conn, _ = connect("g.db")
    conn.executescript(G_SCHEMA)
    return shapes(conn, G_INSERT_MANY, G_INSERT_ONE,
                  lambda n: conn.execute(G_CLAIM, {"n": n}).fetchall(),
                  lambda jobs: conn.execute(G_COMPLETE, (json.dumps(jobs),)),
                  lambda job: conn.execute(G_COMPLETE_ONE, {"id": job[0], "token": job[1]}))


def shapes(conn, insert_many, insert_one, claim, complete_many, complete_one):
    """The rates of SHAPES, one after another on one database."""
    b = insert(conn, insert_many)
    started = time.perf_counter()
    for _ in range(SINGLES):
        conn.execute(insert_one, (PAYLOAD,))
    a = SINGLES / (time.perf_counter() - started)
    c100 = drain(conn, lambda: claim(100), complete_many)
    started = time.perf_counter()
    for _ in range(SINGLES):
        complete_one(claim(1)[0])
    return b, a, c100, SINGLES / (time.perf_counter() - started)


def insert(conn, sql):
    """The JOBS jobs in one statement and transaction, as queue_enqueue_many does (figure B): jobs/s."""
    batch = payloads(JOBS)
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(sql, (batch,))
    conn.execute("COMMIT")
    return JOBS / (time.perf_counter() - started)


def drain(conn, claim, complete):
    started, done = time.perf_counter(), 0
    while done < JOBS:
        conn.execute("BEGIN IMMEDIATE")
        jobs = claim()
        complete(jobs)
        conn.execute("COMMIT")
        done += len(jobs)
    return JOBS / (time.perf_counter() - started)


def layers(runs=3):
    rates = {0: []} | {level: [] for level in LAYERS}
    for _ in range(runs):  # interleaved, so that noise hits every layer alike
        rates[0].append(ceiling())
        for level in LAYERS:
            rates[level].append(layer(level))
    for i, what in enumerate(SHAPES):
        g = median(r[i] for r in rates[0])
        print(f"\n{what}, raw SQL, median of {runs}:")
        print(f"  {'G (the ceiling)':36s} {g:9,.0f} jobs/s")
        for level, (name, _) in LAYERS.items():
            r = median(x[i] for x in rates[level])
            print(f"  {name:36s} {r:9,.0f} jobs/s  {r / g:4.2f} of G  {1e6 / r - 1e6 / g:5.1f} µs/job over G")


def taking_turns(runs=3, n=3_000):
    """Figure D without any waiting: one thread drains a queue (claim 1 +
    complete 1, a transaction each) through one connection, or through two
    that take turns, so that each transaction follows another connection's
    commit, as with several processes. SQLite then drops the connection's
    page cache and re-reads what it needs: the cost that more processes add
    before any lock is waited for."""
    def drain_with(conns, claim, complete):
        started = time.perf_counter()
        for i in range(n):
            complete(conns[(2 * i + 1) % len(conns)], claim(conns[2 * i % len(conns)]))
        return n / (time.perf_counter() - started)

    def fresh(orq):
        conn, path = connect("turns.db", orq=orq)
        if orq:
            conn.execute("SELECT queue_enqueue_many('q', ?)", (payloads(n),))
        else:
            conn.executescript(G_SCHEMA)
            conn.execute(G_INSERT_MANY, (payloads(n),))
        return path

    def opened(path, orq, k):
        conns = [sqlite3.connect(path, isolation_level=None) for _ in range(k)]
        for c in conns:
            c.execute("PRAGMA synchronous = NORMAL")
            if orq:
                c.enable_load_extension(True)
                c.load_extension(EXT)
        return conns

    queues = {
        "G": (lambda c: c.execute(G_CLAIM, {"n": 1}).fetchone(),
              lambda c, job: c.execute(G_COMPLETE_ONE, {"id": job[0], "token": job[1]})),
        "orq": (lambda c: c.execute("SELECT id, token FROM queue_claim('w', 1, 'q')").fetchone(),
                lambda c, job: c.execute("SELECT queue_complete(?, ?)", job)),
    }
    print(f"\nclaim 1 + complete 1, one thread, one connection or two taking turns (figure D), median of {runs}:")
    for name, (claim, complete) in queues.items():
        rates = {1: [], 2: []}
        for _ in range(runs):
            for k in rates:
                rates[k].append(drain_with(opened(fresh(name == "orq"), name == "orq", k), claim, complete))
        one, two = median(rates[1]), median(rates[2])
        print(f"  {name:4s} one connection {one:8,.0f} jobs/s; two taking turns {two:8,.0f} jobs/s = {two / one:.2f}")
    # What more processes could win back: the part of a drain outside orq's
    # calls, which are one write transaction each and so take turns.
    for batch in (1, 32):
        conn = opened(fresh(True), True, 1)[0]
        inside, started = 0.0, time.perf_counter()
        while True:
            before = time.perf_counter()
            jobs = conn.execute("SELECT id, token FROM queue_claim('w', ?, 'q')", (batch,)).fetchall()
            inside += time.perf_counter() - before
            if not jobs:
                break
            done = json.dumps(jobs)
            before = time.perf_counter()
            conn.execute("SELECT queue_complete_many(?)", (done,)).fetchone()
            inside += time.perf_counter() - before
        share = inside / (time.perf_counter() - started)
        print(f"  orq, one process draining at batch {batch}: {share:.0%} of its time inside orq's calls")


# name: (SQL run after the migrations, whether the event triggers are chained)
CHAINS = {
    "whole schema": ("", False),
    "without orq_events_job": ("DROP INDEX orq_events_job;", False),
    "without it, events chained": ("""DROP INDEX orq_events_job;
        ALTER TABLE orq_jobs ADD COLUMN last_event INTEGER;
        ALTER TABLE orq_events ADD COLUMN prev INTEGER;""", True),
}


def chain_events(conn):
    """Rewrites the three event triggers so that each event records the
    job's previous event (prev) and the job row its last one (last_event)."""
    triggers = conn.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' "
                            "AND name LIKE 'orq_jobs_event_%' AND name <> 'orq_jobs_event_purge'").fetchall()
    assert len(triggers) == 3
    for name, sql in triggers:
        body, end = sql.rsplit("END", 1)
        insert = body.rstrip().removesuffix(";").removesuffix(")")  # the INSERT's VALUES list, still open
        prev = "NULL" if name == "orq_jobs_event_insert" else "OLD.last_event"
        conn.execute(f"DROP TRIGGER {name}")
        conn.execute(insert.replace("detail)\n  VALUES", "detail, prev)\n  VALUES", 1)
                     + f", {prev});\n  UPDATE orq_jobs SET last_event = last_insert_rowid() WHERE id = NEW.id;\nEND" + end)


def chained_history(conn):
    """Checks the chains: every job's walk finds all its events, newest first."""
    walk = """WITH RECURSIVE h(seq) AS (SELECT last_event FROM orq_jobs WHERE id = :id
              UNION ALL SELECT prev FROM orq_events JOIN h USING (seq) WHERE prev IS NOT NULL)
              SELECT json_group_array(seq) FROM h"""
    for (job,) in conn.execute("SELECT id FROM orq_jobs ORDER BY random() LIMIT 50").fetchall():
        seqs = [r[0] for r in conn.execute("SELECT seq FROM orq_events WHERE job = ? ORDER BY seq DESC", (job,))]
        assert json.loads(conn.execute(walk, {"id": job}).fetchone()[0]) == seqs and len(seqs) == 3


def history_without_index(runs=3):
    rates = {0: []} | {name: [] for name in CHAINS}
    for _ in range(runs):
        rates[0].append(ceiling())
        for i, (name, (sql, chained)) in enumerate(CHAINS.items()):
            conn, _ = connect(f"chain{i}.db")
            conn.executescript(MIGRATIONS + sql)
            if chained:
                chain_events(conn)
            rates[name].append(orq_shapes(conn))
            if chained:
                chained_history(conn)
    print(f"\nThe per-job history index, raw SQL, median of {runs}: the ratio to G in each shape")
    print(f"  {'':28s}" + "".join(f"{label:>13s}" for label in ("B", "A", "C batch 100", "C batch 1")))
    for name in CHAINS:
        cells = [median(x[i] for x in rates[name]) / median(g[i] for g in rates[0]) for i in range(len(SHAPES))]
        print(f"  {name:28s}" + "".join(f"{c:13.2f}" for c in cells))


if __name__ == "__main__":
    wal_frames()
    layers()
    taking_turns()
    history_without_index()
