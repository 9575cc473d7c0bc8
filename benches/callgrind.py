#!/usr/bin/python3
"""Instructions per job under valgrind's callgrind: orq through its extension
and the ceiling G (benches/proofs.py's hand-written queue), both from Python's
stdlib sqlite3, the way benches/bench.py measures their rates. Repeatable to
the instruction, where the rates swing ±30% on this shared machine.

    /usr/bin/python3 benches/callgrind.py            # the table: every system, every shape
    /usr/bin/python3 benches/callgrind.py orq claim1  # one system, one shape
    /usr/bin/python3 benches/callgrind.py --one orq claim1   # (run under valgrind by the above)

Instructions per job = (the shape's run - the same process doing its setup
only) / N (per_job, which benches/flow_proofs.py and claim_floor.py use too).
The claim shapes drain N jobs that the setup enqueued.
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proofs  # noqa: E402
import queues  # noqa: E402

N = 5000
SHAPES = {
    "enqueue1": "enqueue 1 per transaction",
    "batch": "enqueue N in one statement",
    "claim1": "claim 1 + complete 1, autocommit each",
    "claim100": "claim 100 + complete 100 per transaction",
}


def opened(path, system):
    q = queues.SYSTEMS[system](path)
    # An experiment's schema change (a trigger dropped, events off...).
    if system == "orq" and os.environ.get("ORQ_CG_SQL"):
        q.conn.executescript(os.environ["ORQ_CG_SQL"])
    return q


def one(system, shape, setup_only=False):
    directory = tempfile.mkdtemp(prefix="orq-cg-")
    q = opened(os.path.join(directory, "cg.db"), system)
    if shape.startswith("claim"):
        q.enqueue_many(proofs.payloads(N))
    if setup_only:
        return
    if shape == "enqueue1":
        for _ in range(N):
            q.enqueue(proofs.PAYLOAD)
    elif shape == "batch":
        q.conn.execute("BEGIN IMMEDIATE")
        q.enqueue_many(proofs.payloads(N))
        q.conn.execute("COMMIT")
    elif shape == "claim1":
        for _ in range(N):
            q.complete(q.claim(1)[0])
    elif shape == "claim100":
        for _ in range(N // 100):
            q.conn.execute("BEGIN IMMEDIATE")
            q.complete_many(q.claim(100))
            q.conn.execute("COMMIT")


def per_job(script, args, n):
    """Instructions per job of `script --one *args` under callgrind: its run
    less the same run with "setup" appended (which must stop after the
    setup), over the n jobs of the work."""
    def run(*extra):
        out = tempfile.mktemp(prefix="orq-cg-out-")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
                        str(script), "--one", *args, *extra], check=True, capture_output=True)
        text = Path(out).read_text(errors="replace")
        Path(out).unlink()
        return int(re.search(r"^summary: (\d+)", text, re.M).group(1))

    return (run() - run("setup")) / n


def instructions(system, shape):
    return per_job(__file__, [system, shape], N)


def main():
    systems = [sys.argv[1]] if len(sys.argv) > 1 else ["G", "orq"]
    shapes = [sys.argv[2]] if len(sys.argv) > 2 else list(SHAPES)
    for shape in shapes:
        row = {s: instructions(s, shape) for s in systems}
        cells = "  ".join(f"{s} {v / 1000:.1f}k" for s, v in row.items())
        ratio = f"  G/orq {row['G'] / row['orq']:.2f}" if {"G", "orq"} <= row.keys() else ""
        print(f"{SHAPES[shape]:45} {cells}{ratio}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2], sys.argv[3], len(sys.argv) > 4)
    else:
        main()
