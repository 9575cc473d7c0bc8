"""The conformance runtime for Python (see test_conformance.py):
``python_worker.py DB NAME GRACE``; the same handler as handler.sh."""

import os
import subprocess
import sys
import time

import orq

db, name, grace = sys.argv[1], sys.argv[2], float(sys.argv[3])
q = orq.Queue(db, name=name)


@q.task("c", name="conformance")
def conformance(kind):
    job = orq.current_job()
    if kind == "short":
        time.sleep(0.3)
        return "short done"
    if kind == "durable":
        tries = os.path.join(os.environ["ORQ_CONFORMANCE_DIR"], f"tries-{job.id}")

        def fetch():
            with open(tries, "a") as f:
                f.write("x\n")
            if sum(1 for _ in open(tries)) < 2:
                raise RuntimeError("first try")
            return 2

        n = job.step("fetch", fetch, attempts=2, retry_in=0)
        job.sleep(0.2)
        job.progress(1)
        return job.step("ship", lambda: f"shipped {n}")
    if kind == "fork":
        subprocess.Popen(["sleep", "300"], start_new_session=True)
    alive = os.path.join(os.environ["ORQ_CONFORMANCE_DIR"], f"alive-{job.id}")
    for _ in range(600):
        if job.lost.is_set():
            break
        open(alive, "w").close()
        time.sleep(0.05)
    return "long done"


q.worker("c", concurrency=2, grace=grace, idle_wait=0.05).run()
