"""``q.worker(...).run()``: runs registered tasks in threads until stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Optional

from .jobs import Job, Queues
from .log import Log, chosen_format

if TYPE_CHECKING:
    from .queue import Queue

HEARTBEAT_S = 5.0


class Worker:
    """``concurrency`` threads, each with its own connection, claim jobs of
    ``queues`` (default: the queues of the registered tasks) and run them.

    A job's return value becomes its result; an exception fails the attempt
    (retried after backoff until its attempts are used up) with the
    exception's text. Leases of running jobs are extended halfway through.
    SIGINT/SIGTERM (when ``run`` is called from the main thread) or ``stop()``
    end it gracefully: no new claims, running jobs finish, then ``run``
    returns. The worker is registered in ``queue_workers`` while it runs.

    It logs to stderr as ``orq worker`` does: its start and stop, each job's
    start and end (with its duration, and a failure's error). ``log_format``:
    human (the default), json (one object a line) or quiet; when not given,
    ``$ORQ_LOG_FORMAT``.
    """

    def __init__(
        self, queue: "Queue", queues: Queues, *, concurrency: int, name: str, idle_wait: float,
        log_format: Optional[str] = None,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.queue = queue
        self.queues = queues if queues is not None else sorted({t.queue for t in queue.tasks.values()})
        if self.queues == []:
            raise ValueError("no queues: register a task with @q.task or name the queues")
        self.concurrency, self.name, self.idle_wait = concurrency, name, idle_wait
        self.log = Log(chosen_format(log_format))
        self.done = self.failed = self.lost = 0
        self._stop = threading.Event()
        self._stopping_logged = False
        self._count = threading.Lock()
        self._leases = Leases()

    def run(self) -> None:
        """Work until ``stop()`` or a signal; returns when every running job has ended."""
        restore = self._install_signals()
        # A connection of its own: run() may be called from any thread.
        with self.queue.sibling(self.name) as own:
            self._register(own)
            queues = json.dumps(self._queue_list(), separators=(",", ":"))
            self.log.worker("started", f"{self.name} (concurrency {self.concurrency}, queues {queues})")
            threads = [threading.Thread(target=self._loop, name=f"orq-worker-{i}", daemon=True) for i in range(self.concurrency)]
            for t in threads:
                t.start()
            try:
                while any(t.is_alive() for t in threads):
                    if self._stop.is_set():
                        self._log_stopping()
                    self._stop.wait(min(HEARTBEAT_S, self._leases.next_due()))
                    self._leases.extend_due(own)
                    if time.monotonic() - self._beat_at >= HEARTBEAT_S:
                        self._heartbeat(own)
                for t in threads:
                    t.join()
                self._log_stopping()
            finally:
                own.db.value("SELECT queue_worker_stop(?)", (self.name,))
                restore()
                self.log.worker("stopped", f"{self.done} done, {self.failed} failed")

    def stop(self) -> None:
        """No new claims; running jobs finish, then ``run`` returns."""
        self._stop.set()

    def _log_stopping(self) -> None:
        # Logged by run(), not by stop(): stop() runs in signal handlers, where
        # taking the log's lock (held by the interrupted thread) could deadlock.
        if not self._stopping_logged:
            self._stopping_logged = True
            self.log.worker("stopping", f"letting {len(self._leases)} running job(s) finish")

    def _loop(self) -> None:
        with self.queue.sibling(self.name) as q:
            while not self._stop.is_set():
                jobs = q.claim_many(self.queues, 1)
                if jobs:
                    self._run(q, jobs[0])
                else:
                    q.wait(self.queues, self.idle_wait)

    def _run(self, q: "Queue", job: Job) -> None:
        payload = job.payload if isinstance(job.payload, dict) else {}
        task = q.tasks.get(payload.get("task"))
        if task is None:
            reason = f"no task named {payload.get('task')!r} is registered in worker {self.name}"
            self._end(job, "failed" if job.fail(reason) is not None else "lost", None, reason)
            return
        self._leases.add(job)
        self.log.job(job, "started")
        started = time.monotonic()
        try:
            result = task.run_payload(payload)
        except Exception as e:  # the job's failure, not the worker's
            summary = f"{type(e).__name__}: {e}"
            tail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
            ended = job.fail(f"{summary}\n{tail}"[-4096:]) is not None
            # The log says what failed; the job keeps the traceback too.
            self._end(job, "failed" if ended else "lost", time.monotonic() - started, summary)
        else:
            self._end(job, "done" if job.complete(result) else "lost", time.monotonic() - started)
        finally:
            self._leases.remove(job)

    def _end(self, job: Job, outcome: str, duration: Optional[float], error: Optional[str] = None) -> None:
        """Counts and logs a job's end. ``lost``: its lease ran out and another
        worker has it, so this run's outcome did not count."""
        if outcome == "lost":
            error = "lease lost; not finished"
        # The line first: whoever watches the counts to stop the worker finds it written.
        self.log.job(job, outcome, duration, error)
        with self._count:
            setattr(self, outcome, getattr(self, outcome) + 1)

    def _queue_list(self) -> list[str]:
        return [self.queues] if isinstance(self.queues, str) else list(self.queues)

    def _register(self, own: "Queue") -> None:
        info = {"host": socket.gethostname(), "pid": os.getpid(), "concurrency": self.concurrency, "queues": self._queue_list()}
        own.db.value("SELECT queue_worker_register(?, ?)", (self.name, json.dumps(info)))
        self._beat_at = time.monotonic()

    def _heartbeat(self, own: "Queue") -> None:
        with self._count:
            stats = {"done": self.done, "failed": self.failed}
        own.db.value("SELECT queue_worker_heartbeat(?, ?)", (self.name, json.dumps(stats)))
        self._beat_at = time.monotonic()

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        handlers = {sig: signal.signal(sig, lambda *_: self.stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        return lambda: [signal.signal(sig, h) for sig, h in handlers.items()]


class Leases:
    """The running jobs of a worker, for extending each lease halfway through."""

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job

    def remove(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def next_due(self) -> float:
        """Seconds until the next lease passes its half (at most a second:
        new jobs come in meanwhile)."""
        now = time.time()
        with self._lock:
            waits = [self._half(j) - now for j in self._jobs.values()]
        return max(min(waits + [1.0]), 0.01)

    def extend_due(self, own: "Queue") -> None:
        now = time.time()
        with self._lock:
            due = [j for j in self._jobs.values() if self._half(j) <= now]
        for job in due:
            until = own.db.value("SELECT queue_extend(?, ?, ?)", (job.id, job.token, job.lease))
            if until is not None:
                job.lease_until = until

    @staticmethod
    def _half(job: Job) -> float:
        return job.lease_until - job.lease / 2
