#!/usr/bin/python3
"""Durable execution (issue 19), measured on the built extension
(target/release/liborq) through Python's stdlib sqlite3, as a user drives it.

1. Signal wake-up: a job awaits a signal (queue_await) and a worker waits
   for work (queue_wait); another process sends the signal (queue_signal).
   The time from the signal's commit to the waiter's return, and the CPU
   the waiter used meanwhile.
2. Parked jobs hold no worker: `orq worker -c 4 --builtin noop` drains
   2,000 jobs of another queue with and without 1,000 jobs asleep for an
   hour and 1,000 awaiting a signal beside them (same run), then idles
   among the parked ones: its CPU over 5 s.

    /usr/bin/python3 benches/durable.py [ROUNDS]
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
import queues  # noqa: E402
from flow_proofs import woken_after  # noqa: E402

SIGNALLER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
conn.execute("PRAGMA synchronous = NORMAL")  # as orq's front doors set it (the CLI, the packages)
time.sleep(0.3)
conn.execute("SELECT queue_signal('approved', '{\\"by\\": \\"ann\\"}')")
print(time.time(), flush=True)
"""


def wakeup(rounds):
    latencies, cpu = [], []
    for _ in range(rounds):
        path = os.path.join(tempfile.mkdtemp(prefix="orq-signal-wake-"), "s.db")
        conn = queues.Orq(path).conn
        conn.execute("SELECT queue_enqueue('orders', '{}')")
        job, token = conn.execute("SELECT id, token FROM queue_claim('w', 1)").fetchone()
        assert conn.execute("SELECT queue_await(?, ?, 'approved', 3600)", (job, token)).fetchone()[0] == 1
        latency, used = woken_after(conn, "SELECT queue_wait('orders', 5)", [SIGNALLER, path, queues.EXT])
        latencies.append(latency)
        cpu.append(used)
    print(f"signal wake-up: median {statistics.median(latencies):.2f} ms, max {max(latencies):.2f} ms over "
          f"{rounds} rounds (target < 1 ms); the waiter used {statistics.median(cpu):.2f}% of a core")


ORQ = str(ROOT / "target" / "bundled" / "release" / "orq")


def park(conn, n):
    """n jobs asleep for an hour and n awaiting a signal, each parked by its own lease."""
    conn.execute("SELECT queue_enqueue_many('parked', ?)", ("[" + ",".join(["{}"] * (2 * n)) + "]",))
    for i, (job, token) in enumerate(conn.execute("SELECT id, token FROM queue_claim('w', ?, 'parked')",
                                                  (2 * n,)).fetchall()):
        if i % 2:
            conn.execute("SELECT queue_sleep(?, ?, 3600)", (job, token))
        else:
            conn.execute("SELECT queue_await(?, ?, ?, 3600)", (job, token, f"signal-{i}"))


def drain(parked):
    path = os.path.join(tempfile.mkdtemp(prefix="orq-parked-"), "p.db")
    conn = queues.Orq(path).conn
    if parked:
        park(conn, parked)
    lines = "\n".join("{}" for _ in range(2000))
    subprocess.run([ORQ, "--db", path, "enqueue", "work", "--lines", lines], check=True, capture_output=True)
    started = time.perf_counter()
    subprocess.run([ORQ, "--db", path, "worker", "-q", "work", "--builtin", "noop", "-c", "4", "--until-empty",
                    "--log-format", "quiet"], check=True)
    rate = 2000 / (time.perf_counter() - started)
    idle = subprocess.Popen([ORQ, "--db", path, "worker", "--builtin", "noop", "-c", "4", "--log-format", "quiet"])
    time.sleep(1)
    before = cpu_seconds(idle.pid)
    time.sleep(5)
    used = (cpu_seconds(idle.pid) - before) / 5 * 100
    idle.terminate()
    idle.wait()
    return rate, used


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parked_jobs():
    alone, alone_idle = drain(0)
    beside, beside_idle = drain(1000)
    print(f"parked jobs: orq worker -c 4 drains 2,000 jobs at {alone:,.0f} jobs/s alone and {beside:,.0f} jobs/s "
          f"beside 2,000 parked ones ({beside / alone:.2f}); idle among them it used {beside_idle:.2f}% of a core "
          f"({alone_idle:.2f}% on an empty queue; target < 0.5%)")


if __name__ == "__main__":
    wakeup(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    parked_jobs()
