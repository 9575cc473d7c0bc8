#!/usr/bin/python3
"""Flow control inside the claim (issue 17), measured on the built extension
(target/release/liborq) through Python's stdlib sqlite3, as a user drives it.
The design, and the raw-SQL proofs that came before the build, are in
benches/FLOW-DESIGN.md.

1. Cost: claim 1 + complete 1 on a queue without groups against a queue
   whose jobs are spread over 10,000 groups limited to 2 running each, in the
   same run. Instructions per job under valgrind's callgrind (repeatable).
2. Fairness: one group of 100,000 jobs enqueued first, then 99 groups of 100:
   how many of the big group's jobs are claimed before the last small one.
3. Exactness inside one claim: a claim of 50 from 10 groups limited to 2
   takes 2 of each, and the next claim none.
4. Wake-up: a worker waits (queue_wait) while every due job is held back by
   its group's limit; another process completes a job of that group. The
   time from the completion's commit to the waiter's return, and the CPU the
   waiter used while held back.

    /usr/bin/python3 benches/flow_proofs.py            # all four
    /usr/bin/python3 benches/flow_proofs.py cost       # one of them
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
import callgrind  # noqa: E402
import proofs  # noqa: E402
import queues  # noqa: E402

N = 3000  # claims measured
BACKLOG = 20_000
GROUPS = 10_000


def orq(path):
    return queues.Orq(path).conn


def enqueue_grouped(conn, groups):
    """One job per element of `groups` (its group), in that order, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    for g in groups:
        conn.execute("SELECT queue_enqueue('q', ?, json_object('group', ?))", (proofs.PAYLOAD, g))
    conn.execute("COMMIT")


def claim(conn, n):
    return conn.execute("SELECT id, token FROM queue_claim('w', ?, 'q')", (n,)).fetchall()


def complete(conn, job):
    conn.execute("SELECT queue_complete(?, ?)", job)


def drain_shape(shape, setup_only):
    """The claim 1 + complete 1 loop of figure C, on one of the two queues."""
    conn = orq(os.path.join(tempfile.mkdtemp(prefix="orq-flow-"), "f.db"))
    if shape == "groups":
        conn.execute("""SELECT queue_configure('q', '{"group_max_running": 2}')""")
        enqueue_grouped(conn, [f"tenant:{i % GROUPS}" for i in range(BACKLOG)])
    else:
        conn.execute("SELECT queue_enqueue_many('q', ?)", (proofs.payloads(BACKLOG),))
    if setup_only:
        return
    for _ in range(N):
        complete(conn, claim(conn, 1)[0])


def cost():
    plain, grouped = (callgrind.per_job(__file__, [shape], N) for shape in ("plain", "groups"))
    print(f"1. claim 1 + complete 1, instructions per job: no groups {plain / 1000:.1f}k, "
          f"{GROUPS:,} groups limited to 2 {grouped / 1000:.1f}k: ratio {plain / grouped:.2f} (target >= 0.9)")


def fairness():
    conn = orq(":memory:")
    conn.execute("SELECT queue_enqueue_many('q', ?, '{\"group\": \"big\"}')", (proofs.payloads(100_000),))
    for g in range(99):
        conn.execute("SELECT queue_enqueue_many('q', ?, json_object('group', ?))", (proofs.payloads(100), f"s{g}"))
    big = small = 0
    while small < 99 * 100:
        job = claim(conn, 1)[0]
        group = conn.execute("SELECT grp FROM orq_jobs WHERE id = ?", (job[0],)).fetchone()[0]
        big, small = (big + 1, small) if group == "big" else (big, small + 1)
        complete(conn, job)
    print(f"2. fairness: {big:,} jobs of the big group were claimed before the last of the 9,900 small ones "
          "(target: under 20,000)")


def exactness():
    conn = orq(":memory:")
    conn.execute("""SELECT queue_configure('q', '{"group_max_running": 2}')""")
    enqueue_grouped(conn, [f"g{i % 10}" for i in range(200)])
    taken = claim(conn, 50)
    per_group = conn.execute("SELECT grp, count(*) FROM orq_jobs WHERE state = 'running' GROUP BY grp").fetchall()
    again = claim(conn, 50)
    assert len(taken) == 20 and all(c == 2 for _, c in per_group) and not again, (len(taken), per_group, len(again))
    print(f"3. exactness: a claim of 50 from 10 groups limited to 2 took {len(taken)}, 2 per group; "
          f"the next took {len(again)}")


COMPLETER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
time.sleep(0.3)
conn.execute("SELECT queue_complete(?)", (int(sys.argv[3]),))
print(time.time(), flush=True)
"""


def woken_after(conn, wait_sql, waker):
    """Runs `wait_sql` (a queue_wait that must return 1) on `conn` while
    `python -c WAKER ARGS...` (`waker`) commits in another process and prints
    the time of its commit: the ms from that commit to the waiter's return,
    and the % of a core the waiter used meanwhile."""
    process = subprocess.Popen([sys.executable, "-c", *waker], stdout=subprocess.PIPE, text=True)
    started = time.process_time(), time.monotonic()
    assert conn.execute(wait_sql).fetchone()[0] == 1
    woke = time.time()
    used, waited = time.process_time() - started[0], time.monotonic() - started[1]
    committed = float(process.communicate()[0])
    return (woke - committed) * 1000, used / waited * 100


def wakeup(rounds=20):
    """The waiter sleeps while every due job is held back, and wakes when a
    completion in another process frees a slot."""
    latencies, cpu = [], []
    for _ in range(rounds):
        path = os.path.join(tempfile.mkdtemp(prefix="orq-flow-wake-"), "w.db")
        conn = orq(path)
        conn.execute("""SELECT queue_configure('q', '{"group_max_running": 1}')""")
        enqueue_grouped(conn, ["g"] * 3)
        held = claim(conn, 1)[0]
        latency, used = woken_after(conn, "SELECT queue_wait('q', 5, 'w2')", [COMPLETER, path, queues.EXT, str(held[0])])
        latencies.append(latency)
        cpu.append(used)
    print(f"4. wake-up after a slot frees: median {statistics.median(latencies):.2f} ms, "
          f"max {max(latencies):.2f} ms over {rounds} rounds (target < 1 ms); the waiter held back used "
          f"{statistics.median(cpu):.2f}% of a core (target < 0.5%)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        drain_shape(sys.argv[2], len(sys.argv) > 3)
        sys.exit()
    for name in sys.argv[1:] or ["exactness", "fairness", "wakeup", "cost"]:
        globals()[name]()
