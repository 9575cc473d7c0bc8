#!/usr/bin/python3
"""Issue 16, phase 1: storage designs for the audit trail, proved on raw SQL
before any is built (benches/proofs.py's method: Python's stdlib sqlite3, no
extension loaded, orq's real migrations, the ceiling G in the same run).

Candidates (benches/TRAIL-DESIGN.md says what each keeps and how):
  now         today's schema: an orq_events row + an orq_events_job entry
              for every transition
  no-job-idx  (c) the same rows, without the per-job index
  derived     (a) rows only for what the job row is about to lose; the happy
              path (enqueued, claimed, completed) derived from the row, which
              carries the seq of each (enq_seq, claim_seq) and of its last
              transition (seq, indexed: the live feed's cursor)
  derived2    derived with a partial seq index (running and done jobs only);
              enqueues are found by a binary search on the rowid
  derived2-flat  derived2 with one next-seq per statement, VALUES enqueue
  derived3    seq only after the enqueue, index WHERE seq > enq_seq, next
              seq from two tails once per statement (feed not yet proved)
  derived-no-feed  the same without the seq index: what the feed costs
  trail-off   no trail at all (events off): the floor of every design
  no-triggers, no-event-triggers  (callgrind --one only) trail-off without
              the triggers on orq_jobs: what triggers cost that do nothing

For each: the four shapes' rates and their ratio to G (median of RUNS,
interleaved), WAL frames (pages) written per transaction at batch 1, and a
check that the derived design's live feed and history see every transition.

    /usr/bin/python3 benches/proofs_trail.py [runs]
    /usr/bin/python3 benches/proofs_trail.py --frames
    valgrind --tool=callgrind /usr/bin/python3 benches/proofs_trail.py --one <candidate|G> <shape>
"""

import json
import sys
import time
from statistics import median

import proofs
from proofs import (COMPLETE, COMPLETE_ONE, CLAIM, G_SCHEMA, INSERT_MANY, INSERT_ONE, MIGRATIONS, PAYLOAD,
                    ceiling, connect, frames, orq_shapes, payloads, shapes)

# The happy path needs no event row: these two triggers stop recording
# enqueued, claimed and completed; every other transition keeps its row (and
# its place in the global sequence: seq = the job row's new seq).
DERIVED_SCHEMA = """
ALTER TABLE orq_jobs ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;      -- the job's last transition
ALTER TABLE orq_jobs ADD COLUMN enq_seq INTEGER NOT NULL DEFAULT 0;  -- its enqueue
ALTER TABLE orq_jobs ADD COLUMN claim_seq INTEGER;                   -- its current (last) claim
DROP TRIGGER orq_jobs_event_insert;
DROP TRIGGER orq_jobs_event_update;
CREATE TRIGGER orq_jobs_event_update AFTER UPDATE OF event ON orq_jobs
WHEN NEW.event <> 'claimed' AND NEW.event <> 'completed'
 AND NEW.event <> 'failed' AND NEW.event <> 'expired' AND NEW.event <> 'dead' AND NEW.event <> 'cancelled'
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.seq, NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, NEW.worker, NEW.attempts,
          CASE NEW.event
            WHEN 'extended' THEN '{"token":' || NEW.token || ',"lease_until":' || (NEW.lease_until / 1000.0)
                                 || ',"was":' || (OLD.lease_until / 1000.0) || '}'
            WHEN 'retried'  THEN '{"run_at":' || (NEW.run_at / 1000.0) || ',"was":' || (OLD.run_at / 1000.0) || '}'
            WHEN 'released' THEN '{"run_at":' || (NEW.run_at / 1000.0) || ',"was":' || (OLD.run_at / 1000.0) || '}'
          END);
END;
-- A lost attempt: the row is about to forget that attempt's claim (its seq,
-- start, token, lease) and its run_at, so the event keeps them.
DROP TRIGGER orq_jobs_event_error;
CREATE TRIGGER orq_jobs_event_error AFTER UPDATE OF error ON orq_jobs
WHEN (NEW.event = 'failed' OR NEW.event = 'expired' OR NEW.event = 'dead' OR NEW.event = 'cancelled')
 AND (SELECT events FROM orq_queues WHERE name = NEW.queue) IS NOT 0
BEGIN
  INSERT INTO orq_events (seq, at, job, queue, workflow, type, from_state, to_state, worker, attempt, detail)
  VALUES (NEW.seq, NEW.updated_at, NEW.id, NEW.queue, NEW.workflow, NEW.event, OLD.state, NEW.state, OLD.worker, NEW.attempts,
          json_object('error', NEW.error, 'retry_at', NEW.run_at / 1000.0, 'cause', NEW.cause,
                      'claim_seq', OLD.claim_seq, 'started_at', OLD.started_at / 1000.0, 'token', OLD.token,
                      'lease_until', OLD.lease_until / 1000.0, 'run_at', OLD.run_at / 1000.0));
END;
"""
FEED_INDEX = "CREATE INDEX orq_jobs_seq ON orq_jobs (seq);"

# The next seq: the highest a job row carries. Every event shares its job's
# seq, and (as today for orq_events) retention never deletes the job that
# carries the highest, so no seq is handed out twice.
NEXT = "(SELECT coalesce(max(seq), 0) FROM orq_jobs)"
D_INSERT_MANY = f"""INSERT OR FAIL INTO orq_jobs (queue, state, run_at, payload, max_attempts, lease_ms, created_at, updated_at, event, seq, enq_seq)
SELECT 'q', 'ready', 0, value, 5, 30000, 0, 0, 'enqueued', base + key + 1, base + key + 1
FROM (SELECT {NEXT} AS base), json_each(?)"""
D_INSERT_ONE = f"""INSERT OR FAIL INTO orq_jobs (queue, state, run_at, payload, max_attempts, lease_ms, created_at, updated_at, event, seq, enq_seq)
SELECT 'q', 'ready', 0, ?, 5, 30000, 0, 0, 'enqueued', base + 1, base + 1 FROM (SELECT {NEXT} AS base)"""
D_CLAIM = f"""UPDATE OR FAIL orq_jobs SET state = 'running', attempts = attempts + 1, leases = leases + 1,
  token = orq_jobs.id * 1048576 + (leases + 1) % 1048576, worker = 'w', lease_until = :now + lease_ms,
  started_at = :now, updated_at = :now, event = 'claimed', seq = c.s, claim_seq = c.s
FROM (SELECT id, {NEXT} + row_number() OVER (ORDER BY priority DESC, run_at, id) AS s
      FROM orq_jobs WHERE queue = 'q' AND state = 'ready' AND run_at <= :now
      ORDER BY priority DESC, run_at, id LIMIT :n) AS c
WHERE orq_jobs.id = c.id
RETURNING orq_jobs.id, token"""
D_COMPLETE = f"""UPDATE OR FAIL orq_jobs SET state = 'done', event = 'completed', result = NULL, finished_at = :now,
  lease_until = NULL, updated_at = :now, seq = c.s
FROM (SELECT value ->> 0 AS id, value ->> 1 AS token, base + key + 1 AS s
      FROM (SELECT {NEXT} AS base), json_each(:jobs)) AS c
WHERE orq_jobs.id = c.id AND orq_jobs.state = 'running' AND orq_jobs.token = c.token"""
D_COMPLETE_ONE = f"""UPDATE OR FAIL orq_jobs SET state = 'done', event = 'completed', result = NULL, finished_at = :now,
  lease_until = NULL, updated_at = :now, seq = {NEXT} + 1
WHERE id = :id AND state = 'running' AND token = :token"""
D_FAIL_ONE = f"""UPDATE OR FAIL orq_jobs SET state = 'ready', event = 'failed', error = :error, cause = 'failed',
  run_at = :now + 1000, lease_until = NULL, claim_seq = NULL, updated_at = :now, seq = {NEXT} + 1
WHERE id = :id AND state = 'running' AND token = :token"""

# derived2: the feed's index holds only running and done jobs (whose last
# transition the row derives); an enqueue adds no index entry at all, since
# enq_seq grows with the rowid (both are max + 1 in commit order): the feed
# finds the jobs enqueued after N by a binary search on the rowid. The next
# seq is then the highest of three tails, each one seek.
NEXT2 = """(SELECT max(coalesce((SELECT max(seq) FROM orq_jobs WHERE state = 'running' OR state = 'done'), 0),
                   coalesce((SELECT enq_seq FROM orq_jobs ORDER BY id DESC LIMIT 1), 0),
                   coalesce((SELECT max(seq) FROM orq_events), 0)))"""
FEED_INDEX2 = "CREATE INDEX orq_jobs_seq ON orq_jobs (seq) WHERE state = 'running' OR state = 'done';"
D2 = {name: sql.replace(NEXT, NEXT2) for name, sql in
      dict(insert_many=D_INSERT_MANY, insert_one=D_INSERT_ONE, claim=D_CLAIM, complete=D_COMPLETE,
           complete_one=D_COMPLETE_ONE, fail_one=D_FAIL_ONE).items()}
D1 = dict(insert_many=D_INSERT_MANY, insert_one=D_INSERT_ONE, claim=D_CLAIM, complete=D_COMPLETE,
          complete_one=D_COMPLETE_ONE, fail_one=D_FAIL_ONE)


# derived2-flat: one seq per statement (every row of a batch shares it; the
# feed orders by (seq, id)): no window, no join, the claim and completion
# are today's statements plus two assignments.
D2F = dict(D2)
D2F["claim"] = CLAIM.replace("event = 'claimed'", f"event = 'claimed', seq = {NEXT2} + 1, claim_seq = {NEXT2} + 1")
D2F["complete_one"] = COMPLETE_ONE.replace("updated_at = :now", f"updated_at = :now, seq = {NEXT2} + 1")
D2F["complete"] = COMPLETE.replace("updated_at = :now", f"updated_at = :now, seq = {NEXT2} + 1")
# VALUES, not INSERT ... SELECT: an INSERT whose SELECT reads the table it
# writes goes through a temporary table (+27k instructions per enqueue).
D2F["insert_one"] = INSERT_ONE.replace("event)", "event, seq, enq_seq)").replace(
    "'enqueued')", f"'enqueued', {NEXT2} + 1, {NEXT2} + 1)")

# derived3 (not yet through feed_and_history): one next-seq per statement,
# two seeks. seq is the job's last transition after its enqueue (0 until
# claimed); the index holds only the jobs that moved (seq > enq_seq), so
# loss events need no arm of their own (their job keeps the seq, and
# retention never deletes the job with the highest seq or id). A running
# job's claim is its seq; completion moves it into claim_seq.
NEXT3 = """(SELECT max(coalesce((SELECT max(seq) FROM orq_jobs WHERE seq > enq_seq), 0),
                   coalesce((SELECT enq_seq FROM orq_jobs ORDER BY id DESC LIMIT 1), 0)))"""
FEED_INDEX3 = "CREATE INDEX orq_jobs_seq ON orq_jobs (seq) WHERE seq > enq_seq;"
D3 = dict(D2F)
D3["claim"] = CLAIM.replace("event = 'claimed'", f"event = 'claimed', seq = {NEXT3} + 1")
D3["complete_one"] = COMPLETE_ONE.replace("updated_at = :now", f"updated_at = :now, claim_seq = seq, seq = {NEXT3} + 1")
D3["complete"] = COMPLETE.replace("updated_at = :now", f"updated_at = :now, claim_seq = seq, seq = {NEXT3} + 1")
D3["insert_one"] = INSERT_ONE.replace("event)", "event, enq_seq)").replace("'enqueued')", f"'enqueued', {NEXT3} + 1)")
D3["insert_many"] = D_INSERT_MANY.replace(NEXT, NEXT3).replace("event, seq, enq_seq)", "event, enq_seq)").replace(
    "base + key + 1, base + key + 1", "base + key + 1")


def statements(candidate):
    return {"derived2": D2, "derived2-flat": D2F, "derived3": D3}.get(candidate, D1)


# The live feed after seq :after: the event rows, and the happy-path
# transitions derived from the rows of the jobs that moved since (seq index).
FEED = """
SELECT seq, at, job, type, worker FROM orq_events WHERE seq > :after
UNION ALL
SELECT detail ->> 'claim_seq', detail ->> 'started_at' * 1000, job, 'claimed', worker FROM orq_events
WHERE seq > :after AND detail ->> 'claim_seq' > :after
UNION ALL
SELECT enq_seq, created_at, id, 'enqueued', NULL FROM orq_jobs WHERE {enqueued}
UNION ALL
SELECT claim_seq, started_at, id, 'claimed', worker FROM orq_jobs WHERE {moved} AND claim_seq > :after
UNION ALL
SELECT seq, finished_at, id, 'completed', worker FROM orq_jobs WHERE {moved} AND state = 'done'
ORDER BY 1"""
# A job's history: its event rows (orq_events_job) and what its row derives,
# with each lost attempt's claim recovered from the event that lost it.
HISTORY = """
SELECT seq, type, worker FROM orq_events WHERE job = :id
UNION ALL SELECT detail ->> 'claim_seq', 'claimed', worker FROM orq_events
  WHERE job = :id AND detail ->> 'claim_seq' IS NOT NULL
UNION ALL SELECT enq_seq, 'enqueued', NULL FROM orq_jobs WHERE id = :id
UNION ALL SELECT claim_seq, 'claimed', worker FROM orq_jobs WHERE id = :id AND claim_seq IS NOT NULL
UNION ALL SELECT seq, 'completed', worker FROM orq_jobs WHERE id = :id AND state = 'done'
ORDER BY 1"""


def schema(candidate):
    """The SQL that turns orq's migrated schema into `candidate`'s."""
    return {
        "now": "",
        "no-job-idx": "DROP INDEX orq_events_job;",
        "derived": DERIVED_SCHEMA + FEED_INDEX,
        "derived-no-feed": DERIVED_SCHEMA,
        "derived2": DERIVED_SCHEMA + FEED_INDEX2,
        "derived2-flat": DERIVED_SCHEMA + FEED_INDEX2,
        "derived3": DERIVED_SCHEMA + FEED_INDEX3,
        "no-triggers": "DROP TRIGGER orq_jobs_event_insert; DROP TRIGGER orq_jobs_event_update; "
                       "DROP TRIGGER orq_jobs_event_error; DROP TRIGGER orq_jobs_children;",
        "no-event-triggers": "DROP TRIGGER orq_jobs_event_insert; DROP TRIGGER orq_jobs_event_update; "
                             "DROP TRIGGER orq_jobs_event_error;",
        "trail-off": "UPDATE orq_queues SET events = 0; INSERT INTO orq_queues (name, created_at, events) VALUES ('q', 0, 0);",
    }[candidate]


CANDIDATES = ["now", "no-job-idx", "derived", "derived2", "derived2-flat", "derived3", "derived-no-feed", "trail-off"]


def opened(candidate, name, count_frames=False):
    conn, path = connect(name, count_frames=count_frames)
    conn.executescript(MIGRATIONS + schema(candidate))
    return conn, path


def derived_shapes(conn, candidate):
    d = statements(candidate)
    return shapes(conn, d["insert_many"], d["insert_one"],
                  lambda n: conn.execute(d["claim"], {"now": 1, "n": n}).fetchall(),
                  lambda jobs: conn.execute(d["complete"], {"now": 2, "jobs": json.dumps(jobs)}),
                  lambda job: conn.execute(d["complete_one"], {"now": 2, "id": job[0], "token": job[1]}))


def rates(candidate):
    conn, _ = opened(candidate, f"trail-{candidate}.db")
    if candidate.startswith("derived"):
        result = derived_shapes(conn, candidate)
        seqs = conn.execute("SELECT count(*), count(DISTINCT seq), count(DISTINCT enq_seq) FROM orq_jobs").fetchone()
        if candidate not in ("derived2-flat", "derived3"):
            assert seqs[0] == seqs[1] == seqs[2], f"seqs handed out twice: {seqs}"
        return result
    return orq_shapes(conn)


def compare(runs):
    got = {"G": []} | {c: [] for c in CANDIDATES}
    for _ in range(runs):  # interleaved, so that noise hits every candidate alike
        got["G"].append(ceiling())
        for c in CANDIDATES:
            got[c].append(rates(c))
    labels = ("B batch", "A 1/txn", "C 100", "C 1")
    print(f"Rates (jobs/s) and ratio to G, raw SQL, median of {runs}; targets B>=0.5 A>=0.7 C100>=0.6 C1>=0.7")
    print(f"  {'':16s}" + "".join(f"{label:>18s}" for label in labels))
    g = [median(r[i] for r in got["G"]) for i in range(4)]
    print(f"  {'G':16s}" + "".join(f"{x:18,.0f}" for x in g))
    for c in CANDIDATES:
        cells = [median(r[i] for r in got[c]) for i in range(4)]
        print(f"  {c:16s}" + "".join(f"{x:11,.0f} {x / gi:5.2f}" for x, gi in zip(cells, g)))


def frames_per_op():
    """WAL frames (= pages written) per transaction at batch 1, with a
    backlog of 5,000 jobs, and per job for a batch of 100."""
    print("WAL frames per transaction (batch 1) / per job (batch 100), backlog 5,000:")
    print(f"  {'':16s}{'enqueue':>9s}{'claim':>7s}{'complete':>9s}{'claim100/job':>14s}{'compl100/job':>14s}{'enq100/job':>12s}")
    for c in ["G"] + CANDIDATES:
        if c == "G":
            conn, path = connect("f-g.db", count_frames=True)
            conn.executescript(G_SCHEMA)
            ins_many, ins_one = proofs.G_INSERT_MANY, proofs.G_INSERT_ONE
            claim = lambda n: conn.execute(proofs.G_CLAIM, {"n": n}).fetchall()
            done_many = lambda jobs: conn.execute(proofs.G_COMPLETE, (json.dumps(jobs),))
            done_one = lambda job: conn.execute(proofs.G_COMPLETE_ONE, {"id": job[0], "token": job[1]})
        else:
            conn, path = opened(c, f"f-{c}.db", count_frames=True)
            d = c.startswith("derived")
            st = statements(c) if d else dict(insert_many=INSERT_MANY, insert_one=INSERT_ONE, claim=CLAIM,
                                              complete=COMPLETE, complete_one=COMPLETE_ONE)
            ins_many, ins_one = st["insert_many"], st["insert_one"]
            claim = lambda n, st=st, conn=conn: conn.execute(st["claim"], {"now": 1, "n": n}).fetchall()
            done_many = lambda jobs, st=st, conn=conn: conn.execute(st["complete"], {"now": 2, "jobs": json.dumps(jobs)})
            done_one = lambda job, st=st, conn=conn: conn.execute(st["complete_one"],
                                                                {"now": 2, "id": job[0], "token": job[1]})
        conn.execute(ins_many, (payloads(5000),))
        n, claimed = 200, []
        f0 = frames(path)
        for _ in range(n):
            conn.execute(ins_one, (PAYLOAD,))
        f1 = frames(path)
        for _ in range(n):
            claimed.extend(claim(1))
        f2 = frames(path)
        for job in claimed:
            done_one(job)
        f3 = frames(path)
        batches = []
        for _ in range(10):
            conn.execute("BEGIN IMMEDIATE")
            batches.append(claim(100))
            conn.execute("COMMIT")
        f4 = frames(path)
        for jobs in batches:
            conn.execute("BEGIN IMMEDIATE")
            done_many(jobs)
            conn.execute("COMMIT")
        f5 = frames(path)
        for _ in range(10):
            conn.execute(ins_many, (payloads(100),))
        f6 = frames(path)
        print(f"  {c:16s}{(f1 - f0) / n:9.2f}{(f2 - f1) / n:7.2f}{(f3 - f2) / n:9.2f}"
              f"{(f4 - f3) / 1000:14.3f}{(f5 - f4) / 1000:14.3f}{(f6 - f5) / 1000:12.3f}")


def feed_sql(candidate):
    """FEED for `candidate`; derived2 binds :first_id, the lowest rowid whose
    enq_seq > :after (first_enqueued), where derived seeks enq_seq itself."""
    if candidate == "derived2":
        return FEED.format(enqueued="id >= :first_id", moved="(state = 'running' OR state = 'done') AND seq > :after")
    return FEED.format(enqueued="seq > :after AND enq_seq > :after", moved="seq > :after")


def first_enqueued(conn, after):
    """Binary search on the rowid: the first job enqueued after seq `after`
    (enq_seq grows with the id; purged ids are gaps, which a seek skips)."""
    lo, hi = 0, (conn.execute("SELECT max(id) FROM orq_jobs").fetchone()[0] or 0) + 1
    while lo < hi:  # invariant: every id < lo has enq_seq <= after; ids >= hi have more
        mid = (lo + hi) // 2
        row = conn.execute("SELECT id, enq_seq FROM orq_jobs WHERE id >= ? ORDER BY id LIMIT 1", (mid,)).fetchone()
        if row is None or row[1] > after:
            hi = mid
        else:
            lo = row[0] + 1
    return lo


def feed(conn, candidate, after):
    return conn.execute(feed_sql(candidate), {"after": after, "first_id": first_enqueued(conn, after)}).fetchall()


def feed_and_history(candidate):
    """The derived design loses nothing: a follower reading the feed after
    every step, resuming after the last seq it saw, sees every transition
    once and in order; each job's history is complete; and the feed read
    from 0 at the end equals what the follower saw."""
    conn, _ = opened(candidate, "feed.db")
    d = statements(candidate)
    seen, expected, last = [], [], 0

    def follow():
        nonlocal last
        rows = feed(conn, candidate, last)
        for seq, _at, job, typ, _worker in rows:
            assert seq > last, (seq, last)
            last = seq
            seen.append((job, typ))

    import random
    rng = random.Random(16)
    for step in range(3000):
        op = rng.random()
        if op < 0.35:
            job = conn.execute(d["insert_one"], (PAYLOAD,)).lastrowid
            expected.append((job, "enqueued"))
        else:
            got = conn.execute(d["claim"], {"now": step * 10, "n": rng.choice([1, 1, 3])}).fetchall()
            got.sort()
            expected.extend((job, "claimed") for job, _ in got)
            for job, token in got:
                if rng.random() < 0.2:
                    conn.execute(d["fail_one"], {"now": step * 10, "id": job, "token": token, "error": "boom"})
                    expected.append((job, "failed"))
                else:
                    conn.execute(d["complete_one"], {"now": step * 10, "id": job, "token": token})
                    expected.append((job, "completed"))
        if rng.random() < 0.3:
            follow()
    follow()
    # Within one statement (a claim of 3) the feed orders by seq, the claim by
    # (priority, run_at, id): compare per job, and the whole as a multiset.
    by_job = lambda events: {j: [t for jj, t in events if jj == j] for j, _ in events}
    assert by_job(seen) == by_job(expected), "the feed lost or reordered a job's transitions"
    assert sorted(seen) == sorted(expected)
    everything = [(job, typ) for _s, _a, job, typ, _w in feed(conn, candidate, 0)]
    assert everything == seen, "the feed read at once differs from the feed followed"
    for job, events in by_job(expected).items():
        history = [typ for _s, typ, _w in conn.execute(HISTORY, {"id": job})]
        assert history == events, (job, history, events)
    plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + feed_sql(candidate), {"after": 0, "first_id": 1}))
    hplan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + HISTORY, {"id": 1}))
    print(f"{candidate}: {len(expected)} transitions of {len(by_job(expected))} jobs "
          f"({sum(t == 'failed' for _, t in expected)} failed attempts): the feed, followed in "
          f"{len(set(seen))} reads, and every history match; "
          f"event rows stored: {conn.execute('SELECT count(*) FROM orq_events').fetchone()[0]}")
    print(f"  feed plan: {plan}\n  history plan: {hplan}")


def one(candidate, shape, n=5000):
    """A single shape, for callgrind: instructions per job = total / n (minus the setup run alone)."""
    if candidate == "G":
        conn, _ = connect("cg.db")
        conn.executescript(G_SCHEMA)
        ins_many, ins_one = proofs.G_INSERT_MANY, proofs.G_INSERT_ONE
        claim = lambda k: conn.execute(proofs.G_CLAIM, {"n": k}).fetchall()
        done_one = lambda job: conn.execute(proofs.G_COMPLETE_ONE, {"id": job[0], "token": job[1]})
    else:
        conn, _ = opened(candidate, "cg.db")
        d = candidate.startswith("derived")
        st = statements(candidate) if d else dict(insert_many=INSERT_MANY, insert_one=INSERT_ONE, claim=CLAIM,
                                                  complete_one=COMPLETE_ONE)
        ins_many, ins_one = st["insert_many"], st["insert_one"]
        claim = lambda k: conn.execute(st["claim"], {"now": 1, "n": k}).fetchall()
        done_one = lambda job: conn.execute(st["complete_one"], {"now": 2, "id": job[0], "token": job[1]})
    if shape == "setup":
        return
    if shape == "enqueue1":
        for _ in range(n):
            conn.execute(ins_one, (PAYLOAD,))
    elif shape == "claim1complete1":
        conn.execute(ins_many, (payloads(n),))
        for _ in range(n):
            done_one(claim(1)[0])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--frames"]:
        frames_per_op()
    elif sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["--feed"]:
        feed_and_history("derived")
        feed_and_history("derived2")
    else:
        started = time.perf_counter()
        feed_and_history("derived")
        feed_and_history("derived2")
        frames_per_op()
        compare(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
        print(f"{time.perf_counter() - started:.0f} s")
