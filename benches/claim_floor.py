#!/usr/bin/python3
"""How near G (benches/proofs.py's hand-made queue) orq's claim and completion
can come, whatever the audit trail: orq's own claim_queue.sql and
complete.sql run as raw SQL from Python (no extension glue), on orq's schema
with one thing more taken away at each step, instructions per claim 1 +
complete 1 under callgrind (benches/callgrind.py's per_job). The last steps
take away what orq promises (the trail, leases that expire, retention), so
they bound every design that keeps it.

    /usr/bin/python3 benches/claim_floor.py            # every step, then G
    /usr/bin/python3 benches/claim_floor.py trail      # one step
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import callgrind  # noqa: E402
import flow_proofs  # noqa: E402
import proofs  # noqa: E402
import queues  # noqa: E402

N = 3000
NOW = flow_proofs.NOW
CLAIM, COMPLETE, ROUTABLE = flow_proofs.CLAIM, flow_proofs.COMPLETE, flow_proofs.ROUTABLE
NO_ROUTING = CLAIM.replace(ROUTABLE, "1")
NO_ROOM = NO_ROUTING[:NO_ROUTING.index("  LIMIT coalesce(")] + "  LIMIT CAST(:n AS INTEGER))\n" + \
    NO_ROUTING[NO_ROUTING.index("RETURNING"):]
RETURNING_2 = NO_ROOM[:NO_ROOM.index("RETURNING")] + "RETURNING id, token"

# Each step: what it takes away, its claim, and the SQL run on the schema first.
# Cumulative: each step keeps what the ones before it took away.
STEPS = {
    "orq": ("orq's statements as they are", CLAIM, ""),
    "trail": ("the claimed event (orq_jobs_event_update)", CLAIM, "DROP TRIGGER orq_jobs_event_update;"),
    "routing": ("the routing rule (requires, worker, not_workers)", NO_ROUTING, "DROP TRIGGER orq_jobs_event_update;"),
    "room": ("the room check (paused, max_running)", NO_ROOM, "DROP TRIGGER orq_jobs_event_update;"),
    "returning": ("RETURNING all but id and token", RETURNING_2, "DROP TRIGGER orq_jobs_event_update;"),
    "indexes": ("the running and finished indexes (lease expiry, retention)", RETURNING_2,
                "DROP TRIGGER orq_jobs_event_update; DROP INDEX orq_jobs_running; DROP INDEX orq_jobs_finished;"),
}


def drain(step, setup_only):
    _, claim, schema = STEPS[step]
    q = queues.Orq(os.path.join(tempfile.mkdtemp(prefix="orq-floor-"), "f.db"))
    q.conn.executescript(schema)
    q.enqueue_many(proofs.payloads(N))
    if setup_only:
        return
    for _ in range(N):
        job = q.conn.execute(claim, {"worker": "w", "now": NOW, "lease_ms": None, "queue": "q", "n": 1}).fetchone()
        q.conn.execute(COMPLETE, {"id": job[0], "token": job[-1] if len(job) == 2 else job[4],
                                  "result": None, "now": NOW})


def main(steps):
    g = callgrind.instructions("G", "claim1")
    print(f"{'claim 1 + complete 1, raw SQL, without ...':60} {'instructions':>12} {'G / it':>7}")
    for step in steps:
        n = callgrind.per_job(__file__, [step], N)
        print(f"{STEPS[step][0]:60} {n / 1000:11.1f}k {g / n:7.2f}", flush=True)
    print(f"{'G (callgrind.py, claim1)':60} {g / 1000:11.1f}k")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        drain(sys.argv[2], len(sys.argv) > 3)
    else:
        main(sys.argv[1:] or list(STEPS))
