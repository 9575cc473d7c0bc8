"""A claimed job, the claim context manager and the lease heartbeat."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    from .queue import Queue

Queues = Union[str, list, tuple, None]


def queues_arg(queues: Queues) -> Optional[str]:
    """orq takes one queue name, or a JSON array of names, or NULL for all."""
    if queues is None or isinstance(queues, str):
        return queues
    return json.dumps(list(queues))


@dataclass
class Job:
    """A job leased to this worker. ``token`` fences the lease: once it ran
    out and someone else claimed the job, this object can no longer finish it."""

    id: int
    queue: str
    payload: Any
    attempt: int
    max_attempts: int
    token: int
    lease_until: float
    lease: float
    priority: int = 0
    timeout: Optional[float] = None
    result: Any = None
    """Set this inside ``with q.claim(...)`` to store it as the job's result."""
    finished: bool = False
    claimed_at: float = field(default_factory=time.monotonic, repr=False, compare=False)
    lost: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    """Set by a worker when this job's handler must stop: its lease is lost,
    or the worker's shutdown grace period ended. Its result is not recorded."""
    _queue: Optional["Queue"] = field(default=None, repr=False, compare=False)

    @classmethod
    def from_claim(cls, row: dict, queue: "Queue") -> "Job":
        return cls(
            id=row["id"], queue=row["queue"], payload=row["payload"], attempt=row["attempt"],
            max_attempts=row["max_attempts"], token=row["token"], lease_until=row["lease_until"],
            lease=row["lease"], priority=row["priority"], timeout=row.get("timeout"), _queue=queue,
        )

    def complete(self, result: Any = None) -> bool:
        """Finish the job with ``result`` (any JSON value). False when the lease was lost."""
        self.finished = True
        return bool(self._q().db.value("SELECT queue_complete(?, ?, ?)", (self.id, self.token, _json(result))))

    def fail(self, error: str, retry_in: Optional[float] = None) -> Optional[str]:
        """Record a failed attempt: the job's new state (``ready`` for a retry after
        its backoff or ``retry_in`` seconds, ``dead``), or None when the lease was lost."""
        self.finished = True
        return self._q().db.value("SELECT queue_fail(?, ?, ?, ?)", (self.id, self.token, error, retry_in))

    def extend(self, seconds: Optional[float] = None) -> Optional[float]:
        """Extend the lease to ``seconds`` (default: the claim's lease) from now;
        the new deadline, or None when the lease was lost."""
        until = self._q().db.value("SELECT queue_extend(?, ?, ?)", (self.id, self.token, seconds or self.lease))
        if until is not None:
            self.lease_until = until
        return until

    def release(self, delay: float = 0) -> bool:
        """Give the job back unfinished; the attempt does not count."""
        self.finished = True
        return bool(self._q().db.value("SELECT queue_release(?, ?, ?)", (self.id, self.token, delay)))

    def parent_results(self) -> dict:
        """The results of the jobs this one depended on, by workflow key (or id)."""
        return json.loads(self._q().db.value("SELECT queue_parent_results(?)", (self.id,)) or "{}")

    def _q(self) -> "Queue":
        if self._queue is None:
            raise RuntimeError("this Job is not attached to a Queue")
        return self._queue


class Claim:
    """``with q.claim(...) as job``: the job (or None when there was none) is
    completed when the block ends normally, with ``job.result`` as its result,
    and failed with the exception's text when the block raises (the exception
    propagates). A job the block finished itself is left alone."""

    def __init__(self, queue: "Queue", queues: Queues, lease: Optional[float], wait: float, heartbeat: bool):
        self._queue, self._queues, self._lease, self._wait = queue, queues, lease, wait
        self._heartbeat = heartbeat
        self._beat: Optional[Heartbeat] = None
        self.job: Optional[Job] = None

    def __enter__(self) -> Optional[Job]:
        jobs = self._queue.claim_many(self._queues, 1, lease=self._lease, wait=self._wait)
        self.job = jobs[0] if jobs else None
        if self.job is not None and self._heartbeat:
            self._beat = Heartbeat(self._queue, self.job)
        return self.job

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._beat is not None:
            self._beat.stop()
        job = self.job
        if job is None or job.finished:
            return False
        if exc is None:
            job.complete(job.result)
        else:
            job.fail(f"{exc_type.__name__}: {exc}")
        return False


class Heartbeat:
    """Extends a job's lease halfway through it while the job runs, from a
    thread with a connection of its own (a connection is not shared across
    threads)."""

    def __init__(self, queue: "Queue", job: Job):
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(queue, job), daemon=True, name=f"orq-heartbeat-{job.id}")
        self._thread.start()

    def _run(self, queue: "Queue", job: Job) -> None:
        with queue.sibling() as own:
            while not self._done.wait(max(job.lease / 2, 0.01)):
                until = own.db.value("SELECT queue_extend(?, ?, ?)", (job.id, job.token, job.lease))
                if until is None:
                    return  # the lease is lost; finishing the job will return False/None
                job.lease_until = until

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _json(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value)
