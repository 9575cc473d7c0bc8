"""``q.worker(...).run()``: runs registered tasks in threads until stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from typing import TYPE_CHECKING, Optional

from .jobs import Job, LeaseLost, Queues, Suspended, error_text
from .log import Log, chosen_format

if TYPE_CHECKING:
    from .queue import Queue

_current = threading.local()


def current_job() -> Optional[Job]:
    """The job the calling handler runs for (None outside a worker's handler).
    ``current_job().lost`` is a ``threading.Event`` set when the handler must
    stop: its lease is lost, or the worker's shutdown grace period ended and
    the job was released. Its result is then not recorded."""
    return getattr(_current, "job", None)


class Worker:
    """``concurrency`` threads, each with its own connection, claim jobs of
    ``queues`` (default: the queues of the registered tasks) and run them.

    A job's return value becomes its result; an exception fails the attempt
    (retried after backoff until its attempts are used up) with the
    exception's text. The worker follows orq's worker protocol, as ``orq
    worker`` and the Node worker do: it calls ``queue_worker_beat`` when the
    last beat said to, which extends the leases of running jobs, and stops
    the handlers whose leases are lost (``current_job().lost`` is set; a
    thread cannot be killed, so a handler that never looks runs to its end)
    without recording their results.

    SIGINT/SIGTERM (when ``run`` is called from the main thread) or ``stop()``
    end it gracefully: no new claims, running jobs may finish within
    ``grace`` seconds (default: orq's, 30), then their handlers are told to
    stop and their jobs are released for another worker at once. A second
    signal ends the grace period now. Processes a handler starts do not
    outlive the worker, even when it is killed (see ``orq._watchdog``). The
    worker is registered in ``queue_workers`` while it runs.

    It logs to stderr as ``orq worker`` does: its start and stop, each job's
    start and end (with its duration, and a failure's error). ``log_format``:
    human (the default), json (one object a line) or quiet; when not given,
    ``$ORQ_LOG_FORMAT``.
    """

    def __init__(
        self, queue: "Queue", queues: Queues, *, concurrency: int, name: str, idle_wait: float,
        log_format: Optional[str] = None, grace: Optional[float] = None,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.queue = queue
        self.queues = queues if queues is not None else sorted({t.queue for t in queue.tasks.values()})
        if self.queues == []:
            raise ValueError("no queues: register a task with @q.task or name the queues")
        self.concurrency, self.name, self.idle_wait, self.grace = concurrency, name, idle_wait, grace
        self.log = Log(chosen_format(log_format))
        self.done = self.failed = self.lost = self.released = self.suspended = 0
        self._stop = threading.Event()
        self._wake = threading.Event()  # a stop, or a new lease that may need an earlier beat
        self._stops = 0
        self._stopping_logged = False
        self._count = threading.Lock()
        self._leases = Leases()
        self._answer: dict = {}
        self._next_beat = 0.0
        self._beat_lock = threading.Lock()  # _next_beat: moved earlier by new leases, later by beats

    def run(self) -> None:
        """Work until ``stop()`` or a signal; returns when every running job has
        ended or, past the grace period, been released."""
        restore = self._install_signals()
        watchdog = Watchdog(self.name)
        # A connection of its own: run() may be called from any thread.
        with self.queue.sibling(self.name) as own:
            try:
                self._register(own)
                self._beat(own)
                queues = json.dumps(self._queue_list(), separators=(",", ":"))
                self.log.worker("started", f"{self.name} (concurrency {self.concurrency}, queues {queues})")
                threads = [threading.Thread(target=self._loop, name=f"orq-worker-{i}", daemon=True) for i in range(self.concurrency)]
                for t in threads:
                    t.start()
                self._supervise(own, threads)
            finally:
                self._beat(own)  # the last counts
                own.db.value("SELECT queue_worker_stop(?)", (self.name,))
                watchdog.stop()
                restore()
                self.log.worker("stopped", f"{self.done} done, {self.failed} failed")

    def stop(self) -> None:
        """No new claims; running jobs may finish within the grace period."""
        self._stop.set()
        self._wake.set()

    def _supervise(self, own: "Queue", threads: list[threading.Thread]) -> None:
        """Beats when due until every thread ended, or the grace period did."""
        drain_until = None
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            if self._stop.is_set() and drain_until is None:
                self._log_stopping()
                grace = self.grace if self.grace is not None else self._answer["grace"]
                drain_until = now + grace
            if drain_until is not None and (now >= drain_until or self._stops >= 2):
                for job in self._leases.release_all():
                    own.db.value("SELECT queue_release(?, ?)", (job.id, job.token))
                return  # the released jobs' threads are daemons: their results are not recorded
            if now >= self._next_beat:
                self._beat(own)
            until = min(self._next_beat, drain_until or self._next_beat, now + 1.0)
            self._wake.wait(max(until - time.monotonic(), 0.001))
            self._wake.clear()

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
        with self._beat_lock:
            self._leases.add(job)
            self._next_beat = min(self._next_beat, self._due(job))
        self._wake.set()
        self.log.job(job, "started")
        started = time.monotonic()
        _current.job = job
        try:
            result = task.run_payload(payload)
        except Suspended:  # it sleeps or waits without a worker
            self._end(job, "suspended", time.monotonic() - started)
            return
        except LeaseLost:
            self._end(job, "lost", time.monotonic() - started)
            return
        except Exception as e:  # the job's failure, not the worker's
            if job.lost.is_set():
                self._end(job, self._leases.ending(job), time.monotonic() - started)
                return
            summary = error_text(e)
            tail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
            ended = job.fail(f"{summary}\n{tail}"[-4096:]) is not None
            # The log says what failed; the job keeps the traceback too.
            self._end(job, "failed" if ended else "lost", time.monotonic() - started, summary)
        else:
            if job.lost.is_set():
                self._end(job, self._leases.ending(job), time.monotonic() - started)
            else:
                self._end(job, "done" if job.complete(result) else "lost", time.monotonic() - started)
        finally:
            _current.job = None
            self._leases.remove(job)

    def _end(self, job: Job, outcome: str, duration: Optional[float], error: Optional[str] = None) -> None:
        """Counts and logs a job's end. ``lost``: its lease was lost (it ran out
        and another worker has it, or it was cancelled), ``released``: handed
        back at shutdown; either way this run's outcome did not count."""
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

    def _beat(self, own: "Queue") -> None:
        """queue_worker_beat, and what its answer says: register again when the
        registry does not know this worker, stop the handlers whose leases are
        lost, beat again by ``next``."""
        leases = self._leases.report()
        with self._count:
            report = {"done": self.done, "failed": self.failed, "leases": [[j.id, j.token, j.lease] for j in leases]}
        answer = json.loads(own.db.value("SELECT queue_worker_beat(?, ?)", (self.name, json.dumps(report))))
        if not answer["registered"]:
            self._register(own)
        self._leases.lose(answer["lost"])
        with self._beat_lock:
            self._answer = answer
            # Jobs claimed while this beat ran were not in it.
            reported = {(j.id, j.token) for j in leases}
            unreported = [self._due(j) for j in self._leases.running() if (j.id, j.token) not in reported]
            self._next_beat = min([time.monotonic() + answer["next"], *unreported])

    def _due(self, job: Job) -> float:
        """When a beat must come to extend the lease of ``job``, claimed just now
        or since the last beat."""
        return job.claimed_at + job.lease * self._answer["extend_at"]

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def on_signal(*_):
            self._stops += 1
            self.stop()

        handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        return lambda: [signal.signal(sig, h) for sig, h in handlers.items()]


class Leases:
    """The running jobs of a worker, their leases as queue_worker_beat is told
    them, and why a job's handler was told to stop."""

    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._endings: dict[int, str] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job

    def remove(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
            self._endings.pop(job.id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def report(self) -> list[Job]:
        """The jobs whose leases the worker holds, as far as it knows."""
        with self._lock:
            return [j for j in self._jobs.values() if not j.lost.is_set()]

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def lose(self, lost: list) -> None:
        """Tells the handlers of the leases a beat named lost to stop."""
        self._stop_handlers({(id, token) for id, token in lost}, "lost")

    def release_all(self) -> list[Job]:
        """Tells every running handler to stop; the jobs, to release."""
        with self._lock:
            leases = {(j.id, j.token) for j in self._jobs.values() if not j.lost.is_set()}
        return self._stop_handlers(leases, "released")

    def ending(self, job: Job) -> str:
        with self._lock:
            return self._endings.get(job.id, "lost")

    def _stop_handlers(self, leases: set, why: str) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if (j.id, j.token) in leases and not j.lost.is_set()]
            for job in jobs:
                self._endings[job.id] = why
                job.lost.set()
        return jobs


class Watchdog:
    """Starts ``orq._watchdog`` beside the worker and marks the environment the
    handlers' processes inherit; ``stop()`` closes its pipe (it then kills
    what those processes left running) and unmarks the environment."""

    VAR = "ORQ_WORKER_WATCH"

    def __init__(self, name: str):
        self.marker = f"{name}-{os.getpid()}-{uuid.uuid4().hex}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orq._watchdog", f"{self.VAR}={self.marker}", str(os.getpid())],
            stdin=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        self._previous = os.environ.get(self.VAR)
        os.environ[self.VAR] = self.marker

    def stop(self) -> None:
        if self._previous is None:
            os.environ.pop(self.VAR, None)
        else:
            os.environ[self.VAR] = self._previous
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
