"""Python functions as jobs: ``@q.task`` and the results of their calls."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from .queue import Queue

FINISHED = ("done", "dead", "cancelled")


class JobFailed(Exception):
    """The job ended ``dead`` or ``cancelled``; ``.error`` is its last error."""

    def __init__(self, id: int, state: str, error: Optional[str]):
        super().__init__(f"job {id} ended {state}: {error}")
        self.id, self.state, self.error = id, state, error


class Task:
    """A function registered with ``@q.task``. Calling it runs it here and now;
    ``.delay(...)`` enqueues the call as a job of its queue."""

    def __init__(self, queue: "Queue", fn: Callable, queue_name: str, name: str, options: dict):
        self.fn, self.queue, self.name, self.options = fn, queue_name, name, options
        self._q = queue
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> "TaskResult":
        """Enqueue ``fn(*args, **kwargs)`` (arguments must be JSON values)."""
        return self.submit(args, kwargs)

    def submit(self, args: tuple = (), kwargs: Optional[dict] = None, **options: Any) -> "TaskResult":
        """Enqueue a call with enqueue options of its own (``delay``, ``priority``, ``key`` …)."""
        payload = {"task": self.name, "args": list(args), "kwargs": kwargs or {}}
        id = self._q.enqueue(self.queue, payload, options={**self.options, **options})
        return TaskResult(self._q, id)

    def run_payload(self, payload: Any) -> Any:
        return self.fn(*payload.get("args", []), **payload.get("kwargs", {}))


class TaskResult:
    """The result of job ``id``, once a worker has run it."""

    def __init__(self, queue: "Queue", id: int):
        self._q, self.id = queue, id

    def __repr__(self) -> str:
        return f"TaskResult(id={self.id})"

    @property
    def state(self) -> Optional[str]:
        job = self._q.job(self.id)
        return job and job["state"]

    def get(self, timeout: Optional[float] = None, poll: float = 0.02) -> Any:
        """The job's result; waits up to ``timeout`` seconds (None: for ever) for it
        to finish. Raises :class:`JobFailed` when it ended dead or cancelled and
        ``TimeoutError`` when it did not finish in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = poll
        while True:
            job = self._q.job(self.id)
            if job is None:
                raise KeyError(f"no job {self.id}")
            if job["state"] == "done":
                return job["result"]
            if job["state"] in FINISHED:
                raise JobFailed(self.id, job["state"], job["error"])
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} is still {job['state']}")
            # A finished job writes no claimable work, so queue_wait cannot
            # announce it: poll, gently.
            time.sleep(delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0)))
            delay = min(delay * 2, 0.5)
