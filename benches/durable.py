#!/usr/bin/python3
"""Durable execution (issue 19), measured on the built extension
(target/release/liborq) through Python's stdlib sqlite3, as a user drives it.

1. Signal wake-up: a job awaits a signal (queue_await) and a worker waits
   for work (queue_wait); another process sends the signal (queue_signal).
   The time from the signal's commit to the waiter's return, and the CPU
   the waiter used meanwhile.

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

SIGNALLER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
conn.enable_load_extension(True)
conn.load_extension(sys.argv[2])
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
        signaller = subprocess.Popen([sys.executable, "-c", SIGNALLER, path, queues.EXT], stdout=subprocess.PIPE,
                                     text=True)
        started = time.process_time(), time.monotonic()
        assert conn.execute("SELECT queue_wait('orders', 5)").fetchone()[0] == 1
        woke = time.time()
        used, waited = time.process_time() - started[0], time.monotonic() - started[1]
        sent = float(signaller.communicate()[0])
        latencies.append((woke - sent) * 1000)
        cpu.append(used / waited * 100)
    print(f"signal wake-up: median {statistics.median(latencies):.2f} ms, max {max(latencies):.2f} ms over "
          f"{rounds} rounds (target < 1 ms); the waiter used {statistics.median(cpu):.2f}% of a core")


if __name__ == "__main__":
    wakeup(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
