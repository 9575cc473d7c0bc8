"""Figure P, Python side: claim + complete through the orq Python package
(bindings/python), batch 1 and batch 100, on a fresh database each.
Run by bench.py with the interpreter the package is installed in; prints
one JSON object of jobs/s."""

import json
import os
import sys
import tempfile
import time

import orq


def drain(batch: int, jobs: int) -> float:
    path = os.path.join(tempfile.mkdtemp(prefix="orq-p-"), "p.db")
    with orq.Queue(path, name="bench") as q:
        q.enqueue_many("p", [{"n": i, "pad": "x" * 80} for i in range(jobs)])
        started = time.perf_counter()
        while True:
            claimed = q.claim_many("p", batch)
            if not claimed:
                break
            if batch == 1:
                claimed[0].complete()
            else:
                q.complete_many(claimed)
        return jobs / (time.perf_counter() - started)


if __name__ == "__main__":
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    print(json.dumps({"batch1": drain(1, jobs // 2), "batch100": drain(100, jobs)}))
