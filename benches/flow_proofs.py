#!/usr/bin/python3
"""Flow control inside the claim (issue 17), proved on raw SQL before it is
built: the schema and statements below are candidates, run on orq's real
schema (the extension makes it; the candidate columns and indexes are added
on top), without the extension's glue.

1. Cost: claim 1 + complete 1 on a queue without groups (orq's statements as
   they are) against a queue whose jobs are spread over 10,000 groups with a
   limit of 2 running per group (the candidate claim). Instructions per job
   under valgrind's callgrind (repeatable), as benches/callgrind.py does.
2. Fairness: one group of 100,000 jobs enqueued first, then 99 groups of 100:
   how many of the big group's jobs are claimed before the last small one.
3. Exactness inside one claim: a claim of 50 from groups limited to 2 never
   takes a third job of a group, and takes every job it may.

    /usr/bin/python3 benches/flow_proofs.py            # all three
    /usr/bin/python3 benches/flow_proofs.py cost       # one of them
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
import callgrind  # noqa: E402
import proofs  # noqa: E402
import queues  # noqa: E402

N = 3000  # claims measured
BACKLOG = 20_000
GROUPS = 10_000
NOW = 4 * 10**12  # past every run_at


def sql_file(name, **splices):
    text = "\n".join(l for l in (ROOT / "sql" / name).read_text().splitlines() if not l.startswith("--"))
    for marker, value in splices.items():
        text = text.replace("{" + marker + "}", value)
    return text


ROUTABLE = sql_file("routable.sql")
ROOM = sql_file("room.sql")
CLAIM = sql_file("claim_queue.sql", lease=sql_file("lease.sql"), leased=sql_file("leased.sql"), routable=ROUTABLE,
                 room=ROOM)
COMPLETE = sql_file("complete.sql", watch="", children="children = 0")

# The candidate schema: a job's group and its lane (its place among the
# groups' turns, fixed at enqueue: start-time fair queueing), the ready index
# ordered by lane within a priority, and one index per group over every
# state, whose entries move only within the group's own stretch of the index
# (ready -> running -> done are neighbours: usually one page).
SCHEMA = """
ALTER TABLE orq_jobs ADD COLUMN grp TEXT;
ALTER TABLE orq_jobs ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orq_queues ADD COLUMN group_max_running INTEGER;
CREATE TABLE orq_groups (queue TEXT NOT NULL, grp TEXT NOT NULL, max_running INTEGER,
                         PRIMARY KEY (queue, grp)) WITHOUT ROWID;
DROP INDEX orq_jobs_ready;
CREATE INDEX orq_jobs_ready ON orq_jobs (queue, priority DESC, lane, run_at) WHERE state = 'ready';
CREATE INDEX orq_jobs_groups ON orq_jobs (queue, grp, state, lane) WHERE grp IS NOT NULL;
"""

# The lane of a new job of group :grp: start-time fair queueing. The queue's
# virtual time is the lane at the head of its ready jobs (of that priority);
# a group's next job starts after its newest waiting one, or at the virtual
# time when it has none waiting (an idle group is not punished for its past).
LANE = """max(coalesce((SELECT lane FROM orq_jobs WHERE queue = :queue AND state = 'ready' AND priority = 0
                        ORDER BY priority DESC, lane LIMIT 1), 0),
           coalesce((SELECT lane + 1 FROM orq_jobs WHERE queue = :queue AND grp = :grp AND state = 'ready'
                     ORDER BY state DESC, lane DESC LIMIT 1), 0))"""
ENQUEUE_GROUPED = f"""INSERT INTO orq_jobs (queue, state, run_at, payload, max_attempts, lease_ms, created_at,
                       updated_at, event, grp, lane)
VALUES (:queue, 'ready', 0, :payload, 5, 30000, 0, 0, 'enqueued', :grp, {LANE})"""

# The claim of a limited queue: the first :n candidates in claim order whose
# group has room, each group's candidates ranked, none past its room.
GROUP_ROOM = """CASE WHEN job.grp IS NULL THEN :n ELSE
  coalesce((SELECT max_running FROM orq_groups WHERE queue = :queue AND grp = job.grp),
           (SELECT group_max_running FROM orq_queues WHERE name = :queue), :n)
  - (SELECT count(*) FROM orq_jobs AS r WHERE r.queue = :queue AND r.grp = job.grp AND r.state = 'running') END"""
def limited(claim, window):
    """The claim of a limited queue: the first :n candidates in claim order
    whose group has room (computed once per candidate: the filter is outside
    the co-routine that streams them in index order); with `window`, each
    group's candidates are ranked and none passes its room (a claim of one
    needs no ranking)."""
    head, rest = claim.split("WHERE id IN (")
    where = rest[rest.index("  WHERE queue = :queue"):rest.index("  ORDER BY priority DESC, run_at, id")]
    where = where.replace("  WHERE queue", "\n  WHERE queue", 1)
    tail = "\n" + rest[rest.index("RETURNING"):]
    candidates = f"""SELECT job.id, job.grp, job.priority, job.lane, job.run_at, {GROUP_ROOM} AS room
  FROM orq_jobs AS job{where}  ORDER BY priority DESC, lane, run_at, id"""
    if not window:
        return f"""{head}WHERE id IN (
  SELECT id FROM ({candidates}) WHERE room > 0
  ORDER BY priority DESC, lane, run_at, id LIMIT CAST(:n AS INTEGER)){tail}"""
    return f"""{head}WHERE id IN (
  SELECT id FROM (
    SELECT id, room, row_number() OVER (PARTITION BY grp ORDER BY priority DESC, lane, run_at, id) AS nth
    FROM (SELECT * FROM ({candidates}) WHERE room > 0
          ORDER BY priority DESC, lane, run_at, id LIMIT CAST(:n AS INTEGER)))
  WHERE nth <= room){tail}"""


CLAIM_LIMITED = limited(CLAIM, window=True)
CLAIM_LIMITED_ONE = limited(CLAIM, window=False)


def orq(path, candidate):
    q = queues.Orq(path)
    q.conn.execute("INSERT INTO orq_queues (name, created_at) VALUES ('q', 0)")
    if candidate:
        q.conn.executescript(SCHEMA)
        q.conn.execute("UPDATE orq_queues SET group_max_running = 2 WHERE name = 'q'")
    return q.conn


def enqueue_grouped(conn, groups):
    """One job per element of `groups` (its group), in that order."""
    conn.execute("BEGIN IMMEDIATE")
    for g in groups:
        conn.execute(ENQUEUE_GROUPED, {"queue": "q", "payload": proofs.PAYLOAD, "grp": g})
    conn.execute("COMMIT")


def claim(conn, sql, n):
    return conn.execute(sql, {"worker": "w", "now": NOW, "lease_ms": None, "queue": "q", "n": n}).fetchall()


def complete(conn, job):
    conn.execute(COMPLETE, {"id": job[0], "token": job[4], "result": None, "now": NOW})


def drain_shape(shape, setup_only):
    """The claim 1 + complete 1 loop of figure C, on one of the two queues."""
    conn = orq(os.path.join(tempfile.mkdtemp(prefix="orq-flow-"), "f.db"), shape == "groups")
    if shape == "groups":
        enqueue_grouped(conn, [f"tenant:{i % GROUPS}" for i in range(BACKLOG)])
        sql = CLAIM_LIMITED_ONE
    else:
        conn.execute("SELECT queue_enqueue_many('q', ?)", (proofs.payloads(BACKLOG),))
        sql = CLAIM
    if setup_only:
        return
    for _ in range(N):
        complete(conn, claim(conn, sql, 1)[0])


def instructions(shape):
    return callgrind.per_job(__file__, [shape], N)

def cost():
    plain, grouped = instructions("plain"), instructions("groups")
    print(f"1. claim 1 + complete 1, instructions per job: no groups {plain / 1000:.1f}k, "
          f"{GROUPS:,} groups limited to 2 {grouped / 1000:.1f}k: ratio {plain / grouped:.2f} (target >= 0.9)")


def fairness():
    conn = orq(":memory:", True)
    enqueue_grouped(conn, ["big"] * 100_000)
    enqueue_grouped(conn, [f"small:{g}" for g in range(99) for _ in range(100)])
    conn.execute("UPDATE orq_queues SET group_max_running = NULL")
    big = small = 0
    while small < 99 * 100:
        job = claim(conn, CLAIM_LIMITED_ONE, 1)[0]
        group = conn.execute("SELECT grp FROM orq_jobs WHERE id = ?", (job[0],)).fetchone()[0]
        if group == "big":
            big += 1
        else:
            small += 1
        complete(conn, job)
    print(f"2. fairness: {big:,} jobs of the big group were claimed before the last of the 9,900 small ones "
          "(target: under 20,000)")


def exactness():
    conn = orq(":memory:", True)
    enqueue_grouped(conn, [f"g{i % 10}" for i in range(200)])
    taken = claim(conn, CLAIM_LIMITED, 50)
    per_group = conn.execute("SELECT grp, count(*) FROM orq_jobs WHERE state = 'running' GROUP BY grp").fetchall()
    again = claim(conn, CLAIM_LIMITED, 50)
    assert len(taken) == 20 and all(c == 2 for _, c in per_group) and not again, (len(taken), per_group, len(again))
    print(f"3. exactness: a claim of 50 from 10 groups limited to 2 took {len(taken)}, 2 per group; "
          f"the next took {len(again)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        drain_shape(sys.argv[2], len(sys.argv) > 3)
        sys.exit()
    for name in sys.argv[1:] or ["exactness", "fairness", "cost"]:
        globals()[name]()
