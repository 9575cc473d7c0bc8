"""Figure S, Huey's side: the four rates of benches/bench.py's side-by-side
table for Huey 3.5.4's SqliteHuey (Python's stdlib sqlite3, run by the venv
benches/run makes of Debian's python3), each on a fresh database of N jobs,
through Huey's public API:
  enqueue  calling a @huey.task() per job: SqliteStorage.enqueue, one
           BEGIN EXCLUSIVE ... INSERT ... COMMIT each
  batch    Huey has no batch enqueue: task.map() and huey.enqueue(group)
           enqueue a task at a time, a transaction each, and the storage
           cannot wrap them in one (enqueue issues its own BEGIN, and
           storage.db() holds a lock that enqueue takes again). Reported as
           None, with task.map()'s rate beside it.
  claim    one process: huey.dequeue() (a SELECT outside any transaction to
           see whether there is work, then BEGIN EXCLUSIVE, SELECT, DELETE,
           COMMIT: the job is gone once dequeued, so that is its ack) +
           task.execute() of the no-op task
  procs4   4 OS processes doing the same on one database: N / (common start
           to last finish), with the task ids each dequeued checked for
           duplicates and losses
  consumer for reference: what the consumer's worker loop does per job,
           huey.dequeue() + huey.execute(task), which adds a revocation
           check (a SELECT) and a revocation-key delete (a write transaction)
SqliteStorage's defaults: journal_mode='wal' (a constructor argument);
synchronous is left at SQLite's default (FULL here) unless fsync= says True
(FULL) or False (OFF): the constructor has no NORMAL, so this script sets
synchronous=NORMAL on the storage's own connection, like the other systems.

    benches/peers/.venv/bin/python benches/peers/huey_bench.py N DIR   -> one JSON object
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import huey
from huey import SqliteHuey


def payload(i):
    """The fields of bench.py's PAYLOAD, as the task's argument (Huey pickles it)."""
    return {"user_id": i, "template": "welcome-email", "locale": "en-GB", "attempt_hint": "none", "x": "pad"}


def opened(path):
    """A SqliteHuey on `path` with its one task, a no-op."""
    h = SqliteHuey("bench", filename=str(path))
    h.storage.conn.execute("PRAGMA synchronous = NORMAL")  # see the docstring

    @h.task()
    def noop(data):
        pass

    return h, noop


def fresh(directory, name):
    path = Path(directory) / f"huey-{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def filled(directory, name, n):
    path = fresh(directory, name)
    h, noop = opened(path)
    for i in range(n):
        noop(payload(i))
    return path, h


def timed(n, run):
    started = time.perf_counter()
    run()
    return n / (time.perf_counter() - started)


def enqueue(directory, n):
    h, noop = opened(fresh(directory, "enqueue"))
    return timed(n, lambda: [noop(payload(i)) for i in range(n)])


def mapped(directory, n):
    h, noop = opened(fresh(directory, "map"))
    jobs = [payload(i) for i in range(n)]
    return timed(n, lambda: noop.map(jobs))


def drain(h, ids, consumer=False):
    """Dequeues and runs tasks until the queue is empty, adding their ids to
    `ids`: each task itself, or through huey.execute as the consumer does."""
    while (task := h.dequeue()) is not None:
        if consumer:
            h.execute(task)
        else:
            task.execute()
        ids.append(task.id)
    return ids


def claim(directory, n, consumer=False):
    _, h = filled(directory, "claim", n)
    ids = []
    rate = timed(n, lambda: drain(h, ids, consumer))
    assert len(ids) == n, f"drained {len(ids)} of {n}"
    return rate


def child(path, start_at, out):
    """One of the 4 processes: drains from start_at, writes what it did."""
    h, _ = opened(path)
    ids, errors = [], 0
    time.sleep(max(0.0, start_at - time.time()))
    while True:
        try:
            drain(h, ids)
            break
        except sqlite3.OperationalError as e:  # locked past Huey's 5 s timeout
            errors += 1
            print(f"huey process {os.getpid()}: {e}", file=sys.stderr)
            if errors > 100:
                raise
    Path(out).write_text(json.dumps({"ids": ids, "errors": errors, "ended": time.time()}))


def processes(directory, n, procs):
    path, _ = filled(directory, "procs", n)
    start_at = time.time() + 0.3 + 0.05 * procs
    outs = [Path(directory) / f"huey-procs-{i}.json" for i in range(procs)]
    children = [subprocess.Popen([sys.executable, __file__, "--child", str(path), str(start_at), str(out)])
                for out in outs]
    for c in children:
        assert c.wait() == 0, "a Huey process failed"
    results = [json.loads(out.read_text()) for out in outs]
    seen = [i for r in results for i in r["ids"]]
    return {
        "rate": n / (max(r["ended"] for r in results) - start_at),
        "duplicates": len(seen) - len(set(seen)),
        "losses": n - len(set(seen)),
        "errors": sum(r["errors"] for r in results),
        "split": sorted(len(r["ids"]) for r in results),
    }


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    directory = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="orq-huey-")
    print(json.dumps({
        "version": f"{huey.__version__} from Python {sys.version.split()[0]}'s stdlib sqlite3, SQLite {sqlite3.sqlite_version}",
        "enqueue": enqueue(directory, n),
        "batch": None,
        "map": mapped(directory, n),
        "claim": claim(directory, n),
        "procs4": processes(directory, n, 4),
        "consumer": claim(directory, n, consumer=True),
    }))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        main()
