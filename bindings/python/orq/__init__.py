"""orq: a durable job queue inside SQLite.

``orq.load(conn)`` loads the extension into a ``sqlite3`` or ``apsw``
connection, after which the whole SQL API (``queue_enqueue``,
``queue_claim`` …) is there. ``orq.Queue`` is the Pythonic layer on top::

    q = orq.Queue("app.db")

    @q.task("email", retries=3)
    def send(to): ...

    send.delay("a@b.c")             # from the web app
    q.worker(concurrency=8).run()   # in the worker process
"""

from ._load import LoadError, load, loadable_path
from .errors import (
    CannotOpen,
    Conflict,
    Corrupt,
    DatabaseBusy,
    DatabaseFull,
    DiskError,
    Error,
    InvalidArgument,
    NotFound,
    ReadOnly,
    SchemaMismatch,
)
from .jobs import Claim, Job, LeaseLost, Suspended
from .queue import Queue
from .tasks import JobFailed, Task, TaskResult
from .worker import Worker, current_job

__all__ = [
    "CannotOpen",
    "Claim",
    "Conflict",
    "Corrupt",
    "DatabaseBusy",
    "DatabaseFull",
    "DiskError",
    "Error",
    "InvalidArgument",
    "Job",
    "JobFailed",
    "LeaseLost",
    "LoadError",
    "NotFound",
    "Queue",
    "ReadOnly",
    "SchemaMismatch",
    "Suspended",
    "Task",
    "TaskResult",
    "Worker",
    "current_job",
    "load",
    "loadable_path",
]
__version__ = "0.1.0"
