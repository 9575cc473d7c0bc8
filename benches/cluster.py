#!/usr/bin/env python3
"""Jobs/s through a dqlite cluster of orq-nodes against a single file, in
the same run (issue 18; docs/scale-out.md quotes it).

One `orq worker --builtin noop` drains N jobs (claim, then complete in one
statement per batch) at claim batch 1 and 32, on: the database file, a
1-node cluster and a 3-node cluster on loopback. (The failover time is
measured by tests/cluster/test_failover.py, which prints it.)

    python3 benches/cluster.py [N]      (needs target/release/orq-node and
                                          target/bundled/release/orq built)
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "cluster"))
from nodes import ORQ, Cluster  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000


def drain(target, batch):
    """jobs/s of one noop worker over N jobs; `target` is ["--db", F] or ["--cluster", A]."""
    run = lambda *a: subprocess.run([ORQ, *target, *a], check=True, capture_output=True, text=True)
    queue = f"b{batch}-{time.monotonic_ns()}"
    for start in range(0, N, 1000):
        run("enqueue", queue, "--lines", "\n".join("{}" for _ in range(start, min(N, start + 1000))))
    started = time.perf_counter()
    run("worker", "--builtin", "noop", "-q", queue, "-c", str(batch), "--until-empty", "--log-format", "quiet")
    return N / (time.perf_counter() - started)


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as work:
        work = pathlib.Path(work)
        results = {}
        for batch in (1, 32):
            results[("file", batch)] = drain(["--db", str(work / "file.db")], batch)
        for size in (1, 3):
            (work / f"c{size}").mkdir()
            cluster = Cluster(work / f"c{size}", size)
            cluster.wait_for_leader()
            try:
                for batch in (1, 32):
                    results[(f"{size}-node cluster", batch)] = drain(["--cluster", cluster.spec], batch)
            finally:
                cluster.stop()
        print(f"jobs/s, one noop worker, {N} jobs (claim batch 1 and 32):")
        for batch in (1, 32):
            base = results[("file", batch)]
            for where in ("file", "1-node cluster", "3-node cluster"):
                r = results[(where, batch)]
                print(f"  batch {batch:>2}  {where:<15} {r:>9,.0f}  ({r / base:.2f} of the file)")
        print(json.dumps({f"{w} batch {b}": round(r) for (w, b), r in results.items()}))


if __name__ == "__main__":
    main()
