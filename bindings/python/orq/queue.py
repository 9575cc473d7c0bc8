"""``orq.Queue``: a connection with orq loaded, and the calls on it."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from ._db import Db

# How often wait asks a cluster (the CLI's worker asks as often).
CLUSTER_POLL = 0.02
from .jobs import Claim, Job, Queues, queues_arg
from .tasks import Task, TaskResult

# The enqueue options of queue_enqueue, passed as keyword arguments.
OPTION_KEYS = (
    "priority", "delay", "run_at", "max_attempts", "lease", "backoff", "key", "key_scope", "debounce", "follow_up",
    "group", "same_worker_as", "same_worker_wait", "timeout", "requires", "worker", "not_workers", "depends_on",
    "on_parent_failure",
)


class Queue:
    """A handle on an orq database.

    ``Queue("app.db")`` opens a connection of its own (through the SQLite
    library orq already runs through in this process, else stdlib ``sqlite3``
    when this Python can load extensions, else apsw; ``driver=`` picks one)
    with the recommended PRAGMAs. ``Queue(conn)`` uses your open connection (orq is
    loaded into it if it is not yet), so enqueueing joins your transactions.
    A Queue, like its connection, belongs to one thread; ``sibling()`` makes
    another on the same database.
    """

    def __init__(
        self,
        database: Any,
        *,
        name: Optional[str] = None,
        driver: Optional[str] = None,
        busy_timeout: float = 5.0,
        durable: bool = False,
    ):
        if isinstance(database, str):
            self.db = Db.open(database, driver, busy_timeout, durable)
            self._owned = True
        else:
            self.db = Db(database)
            if not self._has_orq():
                from ._load import load

                load(database)
            self._owned = False
        self.name = name or default_worker_name()
        # Read now: sibling() runs in other threads, where this connection may not be used.
        self.path = self.db.path()
        self._driver, self._busy_timeout, self._durable = driver or ("apsw" if self.db.apsw else "sqlite3"), busy_timeout, durable
        self.tasks: dict[str, Task] = {}

    @classmethod
    def cluster(cls, addresses: str, *, database: str = "orq.db", name: Optional[str] = None) -> "Queue":
        """A queue on a dqlite cluster of ``orq-node``s: ``addresses`` is
        "host:port[,host:port...]" (needs ``dqlite-dbapi``, Python 3.13+; see
        docs/scale-out.md). Each call outside ``transaction()`` is a
        transaction of its own on the leader; ``wait`` only looks."""
        from ._cluster import ClusterDb

        queue = cls.__new__(cls)
        queue.db = ClusterDb.connect(addresses, database)
        queue._owned = True
        queue.name = name or default_worker_name()
        queue.path = ""
        queue._driver, queue._busy_timeout, queue._durable = "dqlite", 5.0, False
        queue.tasks = {}
        return queue

    # -- jobs -----------------------------------------------------------------

    def enqueue(self, queue: str, payload: Any = None, *, options: Optional[dict] = None, **kw: Any) -> int:
        """Store a job; its id. Keyword options are queue_enqueue's (``priority``,
        ``delay``, ``run_at``, ``max_attempts``, ``lease``, ``key``, ``depends_on``, …)."""
        return self.db.value("SELECT queue_enqueue(?, ?, ?)", (queue, json.dumps(payload), _options(options, kw)))

    def enqueue_many(self, queue: str, payloads: Iterable[Any], *, options: Optional[dict] = None, **kw: Any) -> list[int]:
        """Store many jobs in one statement (one commit), all or none; their ids
        in order. Options apply to every job (no ``key``: a key names one job)."""
        items = json.dumps(list(payloads))
        return json.loads(self.db.value("SELECT queue_enqueue_many(?, ?, ?)", (queue, items, _options(options, kw))))

    def claim(self, queues: Queues = None, *, lease: Optional[float] = None, wait: float = 0, heartbeat: bool = False) -> Claim:
        """``with q.claim("email") as job:`` — see :class:`orq.jobs.Claim`.

        ``wait``: seconds to wait for a job when none is due (woken by the
        commit that enqueues one). ``heartbeat``: extend the lease from a
        thread while the block runs."""
        return Claim(self, queues, lease, wait, heartbeat)

    def claim_many(self, queues: Queues = None, n: int = 1, *, lease: Optional[float] = None, wait: float = 0) -> list[Job]:
        """Lease up to ``n`` due jobs (highest priority first); waits up to
        ``wait`` seconds for the first when none is due."""
        deadline = time.monotonic() + wait
        while True:
            raw = self.db.value("SELECT queue_claim_json(?, ?, ?, ?)", (self.name, n, queues_arg(queues), lease))
            jobs = [Job.from_claim(row, self) for row in json.loads(raw)]
            left = deadline - time.monotonic()
            if jobs or left <= 0 or not self.wait(queues, left):
                return jobs

    def complete_many(self, jobs: Iterable[Union[Job, tuple]]) -> int:
        """Complete many jobs in one statement: Jobs (with their ``result``) or
        (id, token[, result]) tuples. How many completed."""
        items = []
        for job in jobs:
            if isinstance(job, Job):
                job.finished = True
                items.append([job.id, job.token, job.result])
            else:
                items.append(list(job))
        return self.db.value("SELECT queue_complete_many(?)", (json.dumps(items),))

    def wait(self, queues: Queues = None, timeout: float = 30) -> bool:
        """Block until a job of ``queues`` may be claimable (True) or ``timeout``
        seconds pass (False). No polling, no transaction held while waiting.
        On a cluster the node only looks, so this asks every 20 ms."""
        deadline = time.monotonic() + timeout
        while True:
            if self.db.value("SELECT queue_wait(?, ?, ?)", (queues_arg(queues), timeout, self.name)):
                return True
            left = deadline - time.monotonic()
            if not self.db.looks_only or left <= 0:
                return False
            time.sleep(min(CLUSTER_POLL, left))

    def signal(self, name: str, payload: Any = None) -> int:
        """Sends signal ``name``: every job waiting for it (``Job.wait_for``)
        runs again with ``payload``; kept a week when none waits yet. How
        many it woke."""
        return self.db.value("SELECT queue_signal(?, ?)", (name, json.dumps(payload)))

    def job(self, id: int) -> Optional[dict]:
        """Every field of a job (its JSON fields decoded), or None."""
        rows = self.db.dicts("SELECT * FROM queue_jobs WHERE id = ?", (id,))
        if not rows:
            return None
        row = rows[0]
        for k in ("payload", "result", "backoff", "requires", "not_workers", "progress"):
            if row.get(k) is not None:
                row[k] = json.loads(row[k])
        return row

    def cancel(self, id: int) -> bool:
        return bool(self.db.value("SELECT queue_cancel(?)", (id,)))

    def retry(self, id: int) -> bool:
        return bool(self.db.value("SELECT queue_retry(?)", (id,)))

    def stats(self) -> list[dict]:
        """One row per queue: counts by state, as ``SELECT * FROM queue_stats``."""
        return self.db.dicts("SELECT * FROM queue_stats")

    def workflow(self, jobs: list[dict], *, name: Optional[str] = None, fail_fast: bool = False) -> int:
        """Submit a DAG in one call: ``jobs`` are ``{"key", "queue", "payload",
        "depends_on": [keys], "options": {...}}``. The workflow's id."""
        spec: dict[str, Any] = {"jobs": jobs, "fail_fast": fail_fast}
        if name is not None:
            spec["name"] = name
        return self.db.value("SELECT queue_workflow(?)", (json.dumps(spec),))

    def workflow_jobs(self, workflow_id: int) -> list[dict]:
        return self.db.dicts("SELECT * FROM queue_workflow_jobs(?)", (workflow_id,))

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator["Queue"]:
        """``BEGIN IMMEDIATE … COMMIT`` (ROLLBACK on an exception): your own writes
        and the jobs you enqueue commit together or not at all (the outbox
        pattern). Inside a transaction already open, a savepoint."""
        if self.db.in_transaction():
            self.db.rows("SAVEPOINT orq_py")
            try:
                yield self
            except BaseException:
                self.db.rows("ROLLBACK TO orq_py")
                self.db.rows("RELEASE orq_py")
                raise
            self.db.rows("RELEASE orq_py")
            return
        self.db.rows("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.db.rows("ROLLBACK")
            raise
        self.db.rows("COMMIT")

    # -- tasks: Python functions as jobs ----------------------------------------

    def task(self, queue: str = "default", *, name: Optional[str] = None, retries: int = 4, **options: Any) -> Callable[[Callable], Task]:
        """``@q.task("email", retries=3)``: ``fn.delay(*args, **kwargs)`` enqueues a call
        (returns a :class:`TaskResult`); ``q.worker(...).run()`` executes them.
        ``retries`` failed attempts are retried with backoff; other keywords are
        enqueue options (``lease``, ``timeout``, ``priority``, ``backoff`` …)."""

        def register(fn: Callable) -> Task:
            task = Task(self, fn, queue, name or f"{fn.__module__}.{fn.__qualname__}", {"max_attempts": retries + 1, **options})
            self.tasks[task.name] = task
            return task

        return register

    def result(self, id: int) -> TaskResult:
        """A handle on the result of job ``id``."""
        return TaskResult(self, id)

    def worker(
        self, queues: Queues = None, *, concurrency: int = 4, name: Optional[str] = None, idle_wait: float = 1.0,
        log_format: Optional[str] = None, grace: Optional[float] = None,
    ):
        """A worker running this Queue's tasks: ``q.worker(concurrency=8).run()``.
        It logs to stderr like ``orq worker``; ``log_format``: human, json or
        quiet (default: ``$ORQ_LOG_FORMAT``, else human). ``grace``: seconds
        running jobs may take to finish once stopped (default: orq's, 30)."""
        from .worker import Worker

        return Worker(
            self, queues, concurrency=concurrency, name=name or self.name, idle_wait=idle_wait,
            log_format=log_format, grace=grace,
        )

    # -- connections ------------------------------------------------------------

    def sibling(self, name: Optional[str] = None) -> "Queue":
        """Another Queue on the same database file (for another thread), sharing the tasks."""
        if not self.path:
            raise ValueError("an in-memory database has no sibling connections")
        other = Queue(self.path, name=name or self.name, driver=self._driver, busy_timeout=self._busy_timeout, durable=self._durable)
        other.tasks = self.tasks
        return other

    def close(self) -> None:
        """Close the connection if this Queue opened it."""
        if self._owned:
            self.db.close()

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _has_orq(self) -> bool:
        try:
            self.db.value("SELECT orq_version()")
            return True
        except Exception:
            return False


def default_worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def _options(options: Optional[dict], kw: dict) -> Optional[str]:
    unknown = [k for k in kw if k not in OPTION_KEYS]
    if unknown:
        raise TypeError(f"unknown enqueue option(s) {unknown}; known: {', '.join(OPTION_KEYS)}")
    merged = {**(options or {}), **kw}
    return json.dumps(merged) if merged else None
