"""A claimed job, the claim context manager and the lease heartbeat."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:
    from .queue import Queue

Queues = Union[str, list, tuple, None]

# orq keeps times in milliseconds: a wait shorter than that is over.
_CLOCK_TICK = 0.001


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
    _calls: dict = field(default_factory=dict, repr=False, compare=False)
    """How many sleeps and spawns this run made so far: their steps' names
    (a handler makes them in the same order each time it runs)."""

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

    # Durable execution (docs/sql/durable.md). A job that runs again after a
    # crash, a lost lease, a retry, a sleep or a wait runs its handler from
    # the start: each step that already has a result returns it at once.

    def step(
        self,
        name: str,
        fn: Callable[[], Any],
        *,
        attempts: Optional[int] = None,
        backoff: Optional[dict] = None,
        retry_in: Optional[float] = None,
    ) -> Any:
        """``fn()``'s result (any JSON value), recorded once as step ``name``:
        when the job runs again, the recorded result, without calling ``fn``.
        A step that raises with ``attempts`` (tries per attempt of the job)
        left is tried again after ``backoff`` (or ``retry_in`` seconds), the
        job asleep meanwhile (``queue_step_fail``); its last error propagates."""
        db = self._q().db
        recorded = db.value("SELECT queue_step(?, ?, ?)", (self.id, self.token, name))
        if recorded is not None:
            return json.loads(recorded)
        try:
            value = fn()
        except (Suspended, LeaseLost):
            raise
        except Exception as e:
            retry = {k: v for k, v in (("attempts", attempts), ("backoff", backoff), ("retry_in", retry_in)) if v is not None}
            failed = db.value(
                "SELECT queue_step_fail(?, ?, ?, ?, ?)", (self.id, self.token, name, error_text(e), json.dumps(retry))
            )
            if failed is None:
                raise LeaseLost(self) from e
            if failed == "retry":
                self.finished = True
                raise Suspended(self) from e
            raise
        if not db.value("SELECT queue_step_done(?, ?, ?, ?)", (self.id, self.token, name, json.dumps(value))):
            raise LeaseLost(self)
        return value

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` without a worker: the job leaves this one and runs
        again when they have passed; this call then returns at once."""
        name = self._next_name("sleep")
        until = self.step(name, lambda: self._q().db.value("SELECT orq_now()") + seconds)
        left = until - self._q().db.value("SELECT orq_now()")
        if left >= _CLOCK_TICK:  # the job's wake-up time is kept in whole ms
            self._suspend("SELECT queue_sleep(?, ?, ?)", (self.id, self.token, left))

    def wait_for(self, signal: str, timeout: Optional[float] = None) -> Any:
        """The payload of signal ``signal`` (``queue_signal``), waiting for it
        without a worker up to ``timeout`` seconds (None: ten years); raises
        TimeoutError when the time ran out first."""
        db = self._q().db
        payload = db.value("SELECT queue_step(?, ?, ?)", (self.id, self.token, f"signal:{signal}"))
        if payload is not None:
            return json.loads(payload)
        until = self.step(f"await:{signal}", lambda: None if timeout is None else db.value("SELECT orq_now()") + timeout)
        left = None if until is None else until - db.value("SELECT orq_now()")
        if left is not None and left < _CLOCK_TICK:
            raise TimeoutError(f"job {self.id}: no signal {signal!r} within {timeout} s")
        self._suspend("SELECT queue_await(?, ?, ?, ?)", (self.id, self.token, signal, left))

    def spawn(self, queue: str, payload: Any, **options: Any) -> int:
        """A child job's id, enqueued once however often this job runs again
        (its step, and a key of its own, remember it)."""
        name = self._next_name("spawn")
        options = {"key": f"orq:{self.id}:{name}", "key_scope": "all", **options}
        return self.step(name, lambda: self._q().db.value(
            "SELECT queue_spawn(?, ?, ?, ?, ?)", (self.id, self.token, queue, json.dumps(payload), json.dumps(options))))

    def gather(self) -> list[dict]:
        """Every job this one spawned (``{"id", "queue", "state", "result",
        "error"}``) once all of them finished, waiting without a worker until
        then. A child that ended dead or cancelled is there with its error."""
        children = self.children()
        if any(c["state"] in ("waiting", "ready", "running") for c in children):
            self._suspend("SELECT queue_gather(?, ?)", (self.id, self.token))
        return children

    def progress(self, value: Any = None, message: Optional[str] = None) -> bool:
        """Reports how far the job got (``queue_jobs.progress``, the dashboard):
        a number, any JSON value, and/or a message. False when the lease is lost."""
        report = value if message is None else {"value": value, "message": message}
        return bool(self._q().db.value("SELECT queue_progress(?, ?, ?)", (self.id, self.token, json.dumps(report))))

    def children(self) -> list[dict]:
        """The jobs this one spawned, as they are now."""
        return json.loads(self._q().db.value("SELECT queue_children(?)", (self.id,)))

    def steps(self) -> list:
        """This job's steps (``{name, result, recorded_at, failures, error}``),
        in the order recorded."""
        return json.loads(self._q().db.value("SELECT queue_steps(?)", (self.id,)))

    def _next_name(self, kind: str) -> str:
        self._calls[kind] = self._calls.get(kind, 0) + 1
        return f"{kind}:{self._calls[kind]}"

    def _suspend(self, sql: str, params: tuple) -> None:
        """Parks the job with ``sql`` and ends the handler's run (Suspended),
        or raises LeaseLost."""
        if not self._q().db.value(sql, params):
            raise LeaseLost(self)
        self.finished = True
        raise Suspended(self)

    def parent_results(self) -> dict:
        """The results of the jobs this one depended on, by workflow key (or id)."""
        return json.loads(self._q().db.value("SELECT queue_parent_results(?)", (self.id,)) or "{}")

    def _q(self) -> "Queue":
        if self._queue is None:
            raise RuntimeError("this Job is not attached to a Queue")
        return self._queue


class Suspended(Exception):
    """Raised by ``Job.sleep``, ``wait_for`` and ``gather`` to end the
    handler's run: the job left its worker and runs again later. Workers and
    ``Queue.claim`` take it as the end of this run, not as a failure."""

    def __init__(self, job: Job):
        super().__init__(f"job {job.id} left its worker until later")
        self.job = job


class LeaseLost(Exception):
    """The job's lease ran out and another worker has it (or it finished):
    this run can record nothing more."""

    def __init__(self, job: Job):
        super().__init__(f"job {job.id}: lease lost (token {job.token})")
        self.job = job


class Claim:
    """``with q.claim(...) as job``: the job (or None when there was none) is
    completed when the block ends normally, with ``job.result`` as its result,
    and failed with the exception's text when the block raises (the exception
    propagates). A job the block finished itself is left alone. A block that
    sleeps or waits (``Suspended``) ends there, and the exception is
    swallowed; ``LeaseLost`` propagates."""

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
        if isinstance(exc, Suspended):
            return True
        if job is None or job.finished or isinstance(exc, LeaseLost):
            return False
        if exc is None:
            job.complete(job.result)
        else:
            job.fail(error_text(exc))
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


def error_text(exc: BaseException) -> str:
    """The text stored as a job's (or a step's) error."""
    return f"{type(exc).__name__}: {exc}"


def _json(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value)
